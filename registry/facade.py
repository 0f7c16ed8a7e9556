"""The registry facade: one interface to a registry, local or over HTTP, for the CLI and the service.

Read, resolve, list, metadata, publish, yank, deprecate, sync: what a command or a handler asks of
a registry, whatever it is. ``open_registry(location)`` answers :class:`LocalRegistry` for a
directory and :class:`HttpRegistry` for the URL of a ``gilgamesh serve``; callers never probe
which one they hold. The writer lock, the order of a batch of publishes, the resolved document and
the next version of a fork are decided here, once.
"""

from __future__ import annotations

import os

from gilgamesh.errors import GilgameshError, UsageError
from gilgamesh.versions import Spec, Version, check_name, next_version, parse_name_spec

from gilgamesh.registry.store.reader import RegistryReader, version_set_of
from gilgamesh.registry.store.resolved import ResolvedVersion

__all__ = ["Registry", "LocalRegistry", "HttpRegistry", "open_registry", "publish_order"]


def open_registry(location: str | None = None, token: str | None = None) -> "Registry":
    """The registry at ``location`` (a directory or an ``http(s)://`` URL; None: the default)."""
    from gilgamesh.config import is_url, registry_location

    location = registry_location(location)
    if is_url(location):
        return HttpRegistry(location, token)
    return LocalRegistry(location)


class Registry:
    """What every registry answers; the subclasses say how."""

    location: str
    reader: RegistryReader

    # -- reads ----------------------------------------------------------------------------------
    def listing(self) -> list[dict]:
        """Every API: ``name``, ``summary`` (of its latest release), ``latest``, ``versions``."""
        rows = []
        for name in self.reader.names():
            index = self.reader.api_index(name)
            versions = index["versions"]
            vset = version_set_of(index)
            latest = vset.latest_release()
            summary = versions[latest]["summary"] if latest else next(iter(versions.values()), {}).get("summary", "")
            rows.append({"name": name, "summary": summary, "latest": latest, "versions": [v.text for v in vset]})
        return rows

    def versions(self, name: str) -> list[dict]:
        """One API's versions, ascending, each with its sha256, date and yank."""
        index = self.reader.api_index(name)
        rows = []
        for v in self.reader.version_set(name):
            e = index["versions"][v.text]
            rows.append({"version": v.text, "sha256": e["sha256"], "published_at": e.get("published_at"),
                         "yanked": e.get("yanked", False), "yank_reason": e.get("yank_reason"),
                         "deprecated": bool(e.get("deprecated")), "deprecation_message": e.get("deprecation_message"),
                         "prerelease": v.is_prerelease})
        return rows

    def resolved(self, name: str, spec: Spec) -> dict:
        """What ``name@spec`` chooses, as ``resolve --json`` prints it (and the service's
        ``GET /api/notebooks/{name}/{spec}`` answers): :class:`ResolvedVersion`'s document."""
        resolution = self.reader.resolve(name, spec)
        entry = self.reader.entry(name, resolution.version)
        return ResolvedVersion.of(name, spec.text, resolution, entry).to_dict()

    def api_snapshot(self, name: str, version: str) -> dict:
        """A version's public API, derived from its notebook (a local store keeps it with the version)."""
        from gilgamesh.notebook import parse_notebook

        from gilgamesh.registry.surface.snapshot import api_snapshot

        return api_snapshot(parse_notebook(self.reader.notebook_bytes(name, version)))

    def documentation(self, name: str, spec: Spec | str | None):
        """The documentation of the version ``name@spec`` chooses, read statically from its notebook
        (``gilgamesh show``): a :class:`~gilgamesh.documentation.model.DocModel`; nothing is executed."""
        from gilgamesh.registry.surface.static_docs import from_notebook

        version = self.reader.resolve(name, spec).version
        entry = self.reader.entry(name, version)
        return from_notebook(self.reader.notebook_bytes(name, version), name, version, entry.get("summary"),
                             entry.get("references"))

    def working_copy(self, name: str, version: str, new_version: str, kernelspec: dict) -> bytes:
        """The bytes of a fork of ``name@version`` whose metadata names ``new_version``, in the
        kernel ``kernelspec``; the reasons of ``changed`` were for the version forked from."""
        import json

        nb = json.loads(self.reader.notebook_bytes(name, version))
        meta = nb.setdefault("metadata", {}).setdefault("gilgamesh", {})
        meta["version"] = new_version
        meta.pop("changed", None)
        nb["metadata"]["kernelspec"] = kernelspec
        return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()

    def diff(self, old: str, new: str) -> dict:
        """``gilgamesh diff OLD NEW``: each API change with the bump it needs over ``old`` and the
        accepted behaviour changes, then the ``required`` bump; either side is ``NAME@SPEC`` or the
        path of a notebook (a working copy)."""
        from gilgamesh.registry.compat.behaviour_changes import diff_rows
        from gilgamesh.registry.compat.semver import bump_of, diff_http_surface, diff_snapshots, effective_bump, required_bump
        from gilgamesh.registry.publish.pipeline import comparable

        n1, v1, label1, old_surface, old_working = _diff_side(self.reader, self.location, old)
        n2, v2, label2, new_surface, working = _diff_side(self.reader, self.location, new)
        if n1 != n2:
            raise UsageError(f"diff compares two versions of one API, not {n1} and {n2}")
        changes = diff_snapshots(*comparable(old_surface, new_surface))
        # The HTTP surface, listed after the Python API's changes (each row: "surface": "http", "route").
        changes += diff_http_surface(n1, v1, _endpoint_signatures(self.reader, n1, v1, old_surface, old_working),
                                     v2, _endpoint_signatures(self.reader, n2, v2, new_surface, working))
        required = required_bump(changes, v1)
        # Each change's bump as it applies over v1 (a 0.x line needs MINOR where 1.x needs MAJOR).
        rows = [{**c.to_dict(), "bump": effective_bump(c.bump, v1)} for c in changes]
        rows += diff_rows(self.reader, n1, v1, v2, working)  # accepted behaviour changes, with their reasons
        data = {"name": n1, "old": v1, "new": v2, "changes": rows,
                "required": required, "bump": bump_of(v1, v2) if Version(v2) > Version(v1) else None}
        if label1 != v1:
            data["old_path"] = label1
        if label2 != v2:
            data["new_path"] = label2
        # What "no API changes" may hide: a new definition that __all__ leaves out (a note).
        data["notes"] = _export_notes(self.reader, n2, v2, label2 if working is not None else None, new_surface)
        return data

    def fork_version(self, name: str, spec: Spec, bump: str) -> tuple[str, str]:
        """``(chosen version, the version a fork of it names)``: never one that is taken."""
        chosen = self.reader.resolve(name, spec).version
        taken = {v.text for v in self.reader.version_set(name)}
        proposed = next_version(chosen, bump)
        while proposed in taken:
            proposed = next_version(proposed, bump)
        return chosen, proposed

    def dependents(self, name: str, spec: Spec) -> dict:
        return self.reader.dependents(name, spec)

    def citation(self, name: str, spec: Spec) -> dict:
        """The "cite this version" BibTeX entry of the version ``name@spec`` chooses."""
        from gilgamesh.registry.store.bibliography import version_citation

        version = self.reader.resolve(name, spec).version
        entry = self.reader.entry(name, version)
        return version_citation(name, version, entry, self.reader.notebook_bytes(name, version), self._docs_url(name, version))

    def _docs_url(self, name: str, version: str) -> str | None:
        return None  # a directory serves no page

    def bibliography(self) -> dict[str, dict]:
        """The registry's bibliography: ``{key: {"type", "fields", "label", "text", "url", "bibtex"}}``."""
        raise NotImplementedError  # pragma: no cover - interface

    def add_bibliography(self, text: str, source: str, replace: bool = False) -> dict:
        """Merge a BibTeX text's entries; ``{"added", "replaced", "unchanged", "entries"}``."""
        raise NotImplementedError  # pragma: no cover - interface

    # -- writes ---------------------------------------------------------------------------------
    def publish(self, data: bytes, dry_run: bool = False) -> dict:
        raise NotImplementedError  # pragma: no cover - interface

    def publish_many(self, files: list[tuple[str, bytes]], dry_run: bool = False, on_start=None) -> list[dict]:
        """Publish (or validate) notebook files, dependencies first; one result per file, in order.

        ``on_start(path)`` is called before each. A refused file does not stop the others.
        """
        results = []
        for path, data in publish_order(files):
            if on_start:
                on_start(path)
            try:
                outcome = self.publish(data, dry_run=dry_run)
            except GilgameshError as e:
                results.append({"path": path, "ok": False, "error": e.to_dict(), "exception": e})
                continue
            results.append({"path": path, "ok": True, **outcome})
        return results

    def set_yanked(self, name: str, version: str, reason: str | None) -> dict:
        """Yank (``reason``) or unyank (None); the entry, with ``dependents`` for a yank."""
        raise NotImplementedError  # pragma: no cover - interface

    def set_deprecated(self, name: str, version: str, message: str | None) -> dict:
        raise NotImplementedError  # pragma: no cover - interface

    def sync(self, source: str, push: bool = False):
        raise UsageError(f"'sync' needs a registry directory, not a URL ({self.location}): "
                         "run it at the site that holds the store")


class LocalRegistry(Registry):
    """A registry directory on this machine; writes take its writer lock."""

    def __init__(self, root: str, user: str | None = None):
        from gilgamesh.registry.store.reader import LocalReader
        from gilgamesh.registry.store.settings import read_settings

        self.location = root
        self.reader = LocalReader(root)  # raises RegistryUnavailable if there is none
        read_settings(root)  # every command refuses a settings file the settings table refuses
        self.user = user

    def _who(self) -> str:
        from gilgamesh.registry.publish.pipeline import default_publisher

        return self.user or default_publisher()

    def api_snapshot(self, name: str, version: str) -> dict:
        from gilgamesh.registry.store.git_store import Store

        return Store(self.location).read_metadata(name, version).get("api", {})

    def publish(self, data: bytes, dry_run: bool = False, validate: bool = True) -> dict:
        from gilgamesh.registry.publish.pipeline import publish

        return publish(self.location, data, publisher=self.user, dry_run=dry_run, validate=validate).to_dict()

    def _write(self, method: str, *args) -> dict:
        from gilgamesh.registry.store.git_store import Store, writer_lock

        with writer_lock(self.location):
            store = Store(self.location)
            store.settle()
            return getattr(store, method)(*args, self._who())

    def set_yanked(self, name: str, version: str, reason: str | None) -> dict:
        entry = self._write("set_yanked", name, version, reason)
        if reason is not None:
            entry = {**entry, "dependents": self.reader.dependents(name, Spec(version))["dependents"]}
        return entry

    def set_deprecated(self, name: str, version: str, message: str | None) -> dict:
        return self._write("set_deprecated", name, version, message)

    def bibliography(self) -> dict[str, dict]:
        from gilgamesh.registry.store.bibliography import read_bibliography
        from gilgamesh.registry.store.git_store import Store

        return read_bibliography(Store(self.location).repo)

    def add_bibliography(self, text: str, source: str, replace: bool = False) -> dict:
        from gilgamesh.registry.store.bibliography import add_entries, parse_bibtex
        from gilgamesh.registry.store.git_store import Store, writer_lock

        entries = parse_bibtex(text, source)  # refused before the lock: nothing is written
        with writer_lock(self.location):
            return add_entries(Store(self.location), entries, self._who(), replace=replace, source=source)

    def sync(self, source: str, push: bool = False):
        from gilgamesh.registry.sync import sync

        return sync(self.location, source, push=push)


class HttpRegistry(Registry):
    """A registry served by ``gilgamesh serve``; writes need a token (``GILGAMESH_TOKEN``)."""

    def __init__(self, url: str, token: str | None = None):
        from gilgamesh.registry.store.client import HttpReader

        self.reader = HttpReader(url, token)
        self.location = self.reader.location
        self.token = token if token is not None else os.environ.get("GILGAMESH_TOKEN")

    def listing(self) -> list[dict]:
        return [{k: item.get(k) for k in ("name", "summary", "latest", "versions")} for item in self.reader.listing()]

    def publish(self, data: bytes, dry_run: bool = False) -> dict:
        from gilgamesh.registry.store.client import publish_over_http

        return publish_over_http(self.location, data, self.token, dry_run=dry_run)

    def set_yanked(self, name: str, version: str, reason: str | None) -> dict:
        from gilgamesh.registry.store.client import yank_over_http

        return yank_over_http(self.location, name, version, reason, self.token)

    def set_deprecated(self, name: str, version: str, message: str | None) -> dict:
        from gilgamesh.registry.store.client import deprecate_over_http

        return deprecate_over_http(self.location, name, version, message, self.token)

    def _docs_url(self, name: str, version: str) -> str:
        return f"{self.location.rstrip('/')}/docs/{name}/{version}"

    def bibliography(self) -> dict[str, dict]:
        return {e["key"]: {k: v for k, v in e.items() if k != "key"} for e in self.reader.bibliography()}

    def add_bibliography(self, text: str, source: str, replace: bool = False) -> dict:
        from gilgamesh.registry.store.client import add_bibliography_over_http

        return add_bibliography_over_http(self.location, text, self.token, replace=replace)


def _endpoint_signatures(reader, name: str, version: str, surface, working: dict | None) -> dict:
    """A diff side's endpoint signatures: a published version's stored ones (what the service binds
    calls against), a working copy's as its publish would store them."""
    from gilgamesh.registry.surface.http import endpoint_signatures, published_signatures

    if working is not None:
        return endpoint_signatures(working.get("endpoints", []), surface.api)
    return published_signatures(reader.entry(name, version))


def _export_notes(reader, name: str, version: str, path: str | None, surface) -> list[str]:
    """The notes on a diff's newer side (a working copy at ``path``, else the published version):
    each public-looking definition its ``__all__`` leaves out."""
    from gilgamesh.notebook import parse_notebook

    from gilgamesh.registry.surface.exports import export_notes
    from gilgamesh.registry.surface.snapshot import parse_import_cells

    if path is not None:
        with open(path, "rb") as f:
            data = f.read()
    else:
        data = reader.notebook_bytes(name, version)
    return export_notes(parse_import_cells(parse_notebook(data)), surface.api)


def _diff_side(reader, location: str, text: str):
    """``(name, version, label, surface, metadata.gilgamesh or None)`` of a published NAME@SPEC or a
    notebook path (a working copy)."""
    from gilgamesh.registry.publish.pipeline import notebook_surface, version_surface

    if text.endswith(".ipynb") or os.path.sep in text or os.path.isfile(text):
        from gilgamesh.notebook import parse_notebook

        try:
            with open(text, "rb") as f:
                nb = parse_notebook(f.read())
        except OSError as e:
            raise GilgameshError(f"cannot read {text}: {e.strerror}") from None
        name, version = nb.metadata.get("name"), nb.metadata.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            raise GilgameshError(f"{text}: metadata.gilgamesh needs a name and a version to be diffed")
        check_name(name)
        Version(version)
        return name, version, text, notebook_surface(nb, location), nb.metadata
    name, spec = parse_name_spec(text)
    version = reader.resolve(name, spec).version
    return name, version, version, version_surface(location, reader, name, version), None



def publish_order(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Dependencies before their users, lower versions first, so a batch publishes in one go."""
    from gilgamesh.notebook import parse_notebook
    from gilgamesh.spelling import find_api_references, rewrite_at_spelling

    info = []
    for path, data in files:
        try:
            nb = parse_notebook(data)
            name, version = nb.metadata.get("name"), Version(nb.metadata.get("version", ""))
            deps = {r.name for c in nb.cells if c.kind == "code" for r in find_api_references(rewrite_at_spelling(c.source))}
        except (GilgameshError, TypeError):
            name, version, deps = None, None, set()
        info.append((path, data, name, version, deps))
    names = {i[2] for i in info if i[2]}

    def depth(name, seen=()):
        if name in seen:
            return 0
        deps = set().union(*(i[4] for i in info if i[2] == name)) & names
        return 1 + max((depth(d, seen + (name,)) for d in deps), default=0)

    return [(p, d) for p, d, n, v, _ in sorted(info, key=lambda i: (depth(i[2]) if i[2] else 0, i[2] or "", i[3].key if i[3] else ()))]

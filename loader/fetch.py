"""The cold path of an import: what the caches do not hold yet.

:mod:`gilgamesh.loader.finder` comes here only when it must: a spec not resolved before against
this index (choose with :class:`~gilgamesh.versions.VersionSet`), an index seen for the first time
(remember it for offline use), an HTTP registry, an unreachable registry (fall back on the index
last seen, with a warning), a version not compiled yet (fetch the notebook, verify its sha256,
compile it with its dependencies pinned, write the caches), a session lock not parsed yet, an
environment not compared yet. The finder hands over what each step needs (names, entries, paths,
a reader factory) and gets plain values back: this module does not import the finder. The cache
layout and the sealed file format are :mod:`gilgamesh.loader.cache`'s.
"""

from __future__ import annotations

import os
import time

from gilgamesh.config import cache_dir, is_url

from gilgamesh.loader import CacheIntegrityWarning, OfflineWarning, warn
from gilgamesh.loader.cache import (
    ENTRY_FIELDS, is_key, notebook_path, read_memo, read_memo_quietly, read_notebook, remove_tree, sha256_hex,
    unlink_quietly, write_code, write_memo, write_notebook, write_sources,
)

__all__ = [
    "load_index",
    "remember_index",
    "resolve_anew",
    "resolution_entry",
    "notebook_bytes",
    "compile_and_cache",
    "register_in_linecache",
    "environment_mismatch",
    "parse_session_lock",
]


# -- resolving --------------------------------------------------------------------------------
def resolution_entry(name: str, spec: str, resolution, index_entry: dict) -> dict:
    """A resolution entry (:data:`~gilgamesh.loader.cache.ENTRY_FIELDS`): the memo of the resolved-version
    record (:class:`~gilgamesh.registry.store.resolved.ResolvedVersion`) of ``resolution``."""
    from gilgamesh.registry.store.resolved import ResolvedVersion

    entry = ResolvedVersion.of(name, spec, resolution, index_entry).memo_entry()
    assert tuple(entry) == ENTRY_FIELDS
    return entry


def resolve_anew(name: str, versions: dict, part: str, memo_path: str) -> dict:
    """Choose the version ``part`` names among ``versions`` (the index); remember it in a memo."""
    from gilgamesh.versions import Spec, VersionSet, spec_from_module_part

    spec = Spec("") if part == "" else spec_from_module_part(part)
    chosen = VersionSet(
        name, ((v, e.get("yanked", False), e.get("yank_reason")) for v, e in versions.items())
    ).resolve(spec)
    entry = resolution_entry(name, spec.text, chosen, versions[chosen.version])
    write_memo(memo_path, entry)
    return entry


def load_index(reader_for, location: str, name: str, directory: str) -> tuple:
    """The index of ``name`` when the warm path could not read it: over HTTP, after settling a
    local registry's journal, or (registry unreachable) the copy last seen.

    Returns ``(data, offline, key, fetched_at)``; ``key`` and ``fetched_at`` only for an offline copy.
    """
    try:
        data = _http_index(reader_for, location, name) if is_url(location) else _local_index(location, name)
    except Exception as e:
        if not _unavailable(e):
            raise
        return _offline_index(location, name, directory, e)
    return data, False, None, None


def remember_index(location: str, name: str, directory: str, key: str, data: bytes) -> float:
    """Keep a new index for offline use; forget the memos of the one it replaces."""
    fetched_at = time.time()
    latest_path = os.path.join(directory, "latest")
    previous = read_memo_quietly(latest_path)
    write_memo(os.path.join(directory, key, "index"),
               {"location": location, "name": name, "fetched_at": fetched_at, "data": data})
    if write_memo(latest_path, {"location": location, "name": name, "key": key, "fetched_at": fetched_at}) \
            and isinstance(previous, dict) and is_key(previous.get("key")) and previous["key"] != key:
        remove_tree(os.path.join(directory, previous["key"]))  # never used again: keep the cache small
    return fetched_at


def _unavailable(e: BaseException) -> bool:
    from gilgamesh.errors import RegistryUnavailable

    return isinstance(e, (RegistryUnavailable, OSError))


def _http_index(reader_for, location: str, name: str) -> bytes:
    import json

    index = reader_for(location).api_index(name)
    return json.dumps(index, sort_keys=True, separators=(",", ":")).encode()


def _local_index(location: str, name: str) -> bytes:
    """The index file, once the reader has said why the warm path could not read it: no registry
    (RegistryUnavailable), no such API, or a write in progress (then the reader reads the refs)."""
    from gilgamesh.errors import ApiNotFound, RegistryUnavailable
    from gilgamesh.registry.store.layout import Layout
    from gilgamesh.registry.store.reader import LocalReader

    reader = LocalReader(location)
    if os.path.exists(Layout(location).journal_file):
        import json

        return json.dumps(reader.api_index(name), sort_keys=True, indent=1).encode()
    try:
        with open(Layout(location).index_file(name), "rb") as f:
            return f.read()
    except FileNotFoundError:
        from gilgamesh.versions import check_name

        check_name(name)  # a keyword has no index either: say what is wrong with it
        raise ApiNotFound(f"no API named {name!r} in the registry at {location}") from None
    except OSError as e:
        raise RegistryUnavailable(f"cannot read the registry at {location}: {e}") from None


def _offline_index(location: str, name: str, directory: str, error: BaseException) -> tuple:
    from gilgamesh.errors import RegistryUnavailable

    reason = getattr(error, "message", None) or str(error)
    # An altered memo raises IntegrityError here: offline there is nothing else to trust.
    latest = read_memo(os.path.join(directory, "latest"))
    copy = None
    if isinstance(latest, dict) and latest.get("location") == location and latest.get("name") == name \
            and is_key(latest.get("key")):
        copy = read_memo(os.path.join(directory, latest["key"], "index"))
    if not (isinstance(copy, dict) and copy.get("location") == location and copy.get("name") == name
            and isinstance(copy.get("data"), bytes)):
        raise RegistryUnavailable(
            f"{reason}; {name} was never imported from {location} on this machine, "
            "so nothing is cached to import offline"
        ) from None
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(copy["fetched_at"]))
    warn(f"{reason}; {name} resolves offline from its index as seen on {when}", OfflineWarning)
    return copy["data"], True, latest["key"], copy["fetched_at"]


# -- content ----------------------------------------------------------------------------------
def notebook_bytes(r, reader_for) -> bytes:
    """The notebook ``r`` names: from the cache, else from the registry (then cached)."""
    from gilgamesh.errors import IntegrityError, RegistryUnavailable

    root = cache_dir()
    try:
        data = read_notebook(root, r.sha256)
    except IntegrityError as e:
        if r.index.offline:
            raise
        warn(f"{e}; fetching it again from the registry", CacheIntegrityWarning)
        unlink_quietly(notebook_path(root, r.sha256))
        data = None
    if data is not None:
        return data
    location = r.index.location
    try:
        if r.index.offline:
            raise RegistryUnavailable(f"the registry at {location} is unreachable")
        if is_url(location):
            data = reader_for(location).notebook_bytes(r.name, r.version)
        else:
            data = _local_blob(location, r.sha256, f"{r.name}@{r.version}")
    except Exception as e:
        if not _unavailable(e):
            raise
        raise RegistryUnavailable(
            f"{getattr(e, 'message', None) or e}; {r.name}@{r.version} is not in the local cache"
        ) from None
    if sha256_hex(data) != r.sha256:
        raise IntegrityError(
            f"integrity check failed for {r.name}@{r.version} from {location}: "
            f"expected sha256 {r.sha256}, got {sha256_hex(data)}"
        )
    write_notebook(root, r.sha256, data)
    return data


def _local_blob(location: str, sha256: str, label: str) -> bytes:
    from gilgamesh.errors import IntegrityError, RegistryUnavailable
    from gilgamesh.registry.store.layout import Layout

    layout = Layout(location)
    try:
        with open(layout.blob_file(sha256), "rb") as f:
            return f.read()
    except FileNotFoundError:
        if not layout.exists():
            raise RegistryUnavailable(f"no registry at {location}") from None
        raise IntegrityError(f"the registry at {location} lacks the content of {label}") from None


def compile_and_cache(r, path: str, source_root: str, reader_for) -> dict:
    """Compile the notebook of ``r`` (its dependency imports pinned to ``r.dependencies``) and
    cache the result (cell files first, then the code)."""
    from gilgamesh.loader.compiler import compile_notebook, source_files

    data = notebook_bytes(r, reader_for)
    payload = compile_notebook(data, r.name, r.version, r.sha256, source_root, r.dependencies)
    if not write_sources(source_root, source_files(payload)):
        # No cell files (read-only cache): compile with <...> names kept in linecache instead.
        payload = compile_notebook(data, r.name, r.version, r.sha256, "", r.dependencies)
    write_code(path, payload)
    return payload


def register_in_linecache(cells: tuple) -> None:
    """Without cell files (the cache is not writable) the sources go to ``linecache``."""
    import linecache

    for _, filename, source, _ in cells:
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


# -- environments -------------------------------------------------------------------------------
def environment_mismatch(name: str, version: str, environment: dict, memo_path: str) -> str:
    """The warning for this environment against the one ``name@version`` was validated in
    ("" when they agree in major and minor version); remembered at ``memo_path``."""
    from gilgamesh.environment import compare_environment

    message = compare_environment(name, version, environment)
    write_memo(memo_path, message)
    return message


# -- session locks ------------------------------------------------------------------------------
def parse_session_lock(data: bytes, path: str, memo_path: str) -> dict:
    """``{"pins": {"name.part": (exact part, sha256)}}`` of a lock file's bytes; remembered."""
    from gilgamesh.lockfile import parse_lock, spelling_pins

    parsed = {"pins": spelling_pins(parse_lock(data, path))}
    write_memo(memo_path, parsed)
    return parsed

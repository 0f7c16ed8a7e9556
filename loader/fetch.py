"""The cold path of an import: what the caches do not hold yet.

:mod:`gilgamesh.loader.finder` comes here only when it must: a spec not resolved before against
this index (choose with :class:`~gilgamesh.versions.VersionSet`), an index seen for the first time
(remember it for offline use), an HTTP registry, an unreachable registry (fall back on the index
last seen, with a warning), a version not compiled yet (fetch the notebook, verify its sha256,
compile it, write the caches). The cache layout and the sealed-file format are described in
:mod:`gilgamesh.loader.finder`, which reads them.
"""

from __future__ import annotations

import os
import time
from _thread import get_ident as _get_ident

from gilgamesh.config import cache_dir, is_url

from . import CacheIntegrityWarning, OfflineWarning, warn
from .finder import (
    CODE_TAG, DIGEST_SIZE, MEMO_TAG, ApiIndex, Resolved, Session, digest, fresh_index, notebook_path, read_memo,
    read_memo_quietly,
)

__all__ = [
    "load_index",
    "remember_index",
    "resolve_anew",
    "notebook_bytes",
    "compile_and_cache",
    "register_in_linecache",
    "sha256_hex",
    "seal",
    "atomic_write",
    "write_code",
    "write_memo",
    "read_notebook",
    "write_notebook",
    "write_sources",
    "remove_tree",
]


# -- resolving --------------------------------------------------------------------------------
def resolve_anew(idx: ApiIndex, part: str) -> tuple:
    """Choose the version ``part`` names in the index; remember the choice in a memo."""
    from gilgamesh.versions import Spec, VersionSet, spec_from_module_part

    spec = Spec("") if part == "" else spec_from_module_part(part)
    versions = idx.versions()
    chosen = VersionSet(
        idx.name, ((v, e.get("yanked", False), e.get("yank_reason")) for v, e in versions.items())
    ).resolve(spec)
    entry = (chosen.version, versions[chosen.version]["sha256"], chosen.yanked, chosen.yank_reason, chosen.warning)
    write_memo(idx.memo_path(part), entry)
    return entry


def load_index(session: Session, location: str, name: str, directory: str) -> ApiIndex:
    """The index of ``name`` when the warm path could not read it: over HTTP, after settling a
    local registry's journal, or (registry unreachable) the copy last seen."""
    try:
        data = _http_index(session, location, name) if is_url(location) else _local_index(location, name)
    except Exception as e:
        if not _unavailable(e):
            raise
        return _offline_index(location, name, directory, e)
    return fresh_index(location, name, directory, data)


def remember_index(location: str, name: str, directory: str, key: str, data: bytes) -> float:
    """Keep a new index for offline use; forget the memos of the one it replaces."""
    fetched_at = time.time()
    latest_path = os.path.join(directory, "latest")
    previous = read_memo_quietly(latest_path)
    write_memo(os.path.join(directory, key, "index"), (location, name, fetched_at, data))
    if write_memo(latest_path, (location, name, key, fetched_at)) and isinstance(previous, tuple) \
            and len(previous) == 4 and _is_key(previous[2]) and previous[2] != key:
        remove_tree(os.path.join(directory, previous[2]))  # never used again: keep the cache small
    return fetched_at


def _is_key(key) -> bool:
    """A memo directory name as :func:`digest` makes them (never a path of another shape)."""
    return isinstance(key, str) and len(key) == 2 * DIGEST_SIZE and all(c in "0123456789abcdef" for c in key)


def _unavailable(e: BaseException) -> bool:
    from gilgamesh.errors import RegistryUnavailable

    return isinstance(e, (RegistryUnavailable, OSError))


def _http_index(session: Session, location: str, name: str) -> bytes:
    import json

    index = session.reader(location).api_index(name)
    return json.dumps(index, sort_keys=True, separators=(",", ":")).encode()


def _local_index(location: str, name: str) -> bytes:
    """The index file, once the reader has said why the warm path could not read it: no registry
    (RegistryUnavailable), no such API, or a write in progress (then the reader reads the refs)."""
    from gilgamesh.errors import ApiNotFound, RegistryUnavailable
    from gilgamesh.registry.layout import Layout
    from gilgamesh.registry.reader import LocalReader

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


def _offline_index(location: str, name: str, directory: str, error: BaseException) -> ApiIndex:
    from gilgamesh.errors import RegistryUnavailable

    reason = getattr(error, "message", None) or str(error)
    # An altered memo raises IntegrityError here: offline there is nothing else to trust.
    latest = read_memo(os.path.join(directory, "latest"))
    copy = None
    if isinstance(latest, tuple) and len(latest) == 4 and latest[:2] == (location, name) and _is_key(latest[2]):
        copy = read_memo(os.path.join(directory, latest[2], "index"))
    if not (isinstance(copy, tuple) and len(copy) == 4 and copy[:2] == (location, name)):
        raise RegistryUnavailable(
            f"{reason}; {name} was never imported from {location} on this machine, "
            "so nothing is cached to import offline"
        ) from None
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(copy[2]))
    warn(f"{reason}; {name} resolves offline from its index as seen on {when}", OfflineWarning)
    return ApiIndex(name, location, copy[3], latest[2], directory, True, copy[2])


# -- content ----------------------------------------------------------------------------------
def notebook_bytes(session: Session, r: Resolved) -> bytes:
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
            data = session.reader(location).notebook_bytes(r.name, r.version)
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
    from gilgamesh.registry.layout import Layout

    layout = Layout(location)
    try:
        with open(layout.blob_file(sha256), "rb") as f:
            return f.read()
    except FileNotFoundError:
        if not layout.exists():
            raise RegistryUnavailable(f"no registry at {location}") from None
        raise IntegrityError(f"the registry at {location} lacks the content of {label}") from None


def compile_and_cache(session: Session, r: Resolved, path: str, source_root: str) -> tuple:
    """Compile the notebook of ``r`` and cache the result (cell files first, then the code)."""
    from .compiler import compile_notebook, source_files

    data = notebook_bytes(session, r)
    payload = compile_notebook(data, r.name, r.version, r.sha256, source_root)
    if not write_sources(source_root, source_files(payload)):
        # No cell files (read-only cache): compile with <...> names kept in linecache instead.
        payload = compile_notebook(data, r.name, r.version, r.sha256, "")
    write_code(path, payload)
    return payload


def register_in_linecache(cells: tuple) -> None:
    """Without cell files (the cache is not writable) the sources go to ``linecache``."""
    import linecache

    for _, filename, source, _ in cells:
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


# -- writing the caches -----------------------------------------------------------------------
def sha256_hex(data: bytes) -> str:
    """The hex sha256 of ``data`` (the identity of a notebook)."""
    from hashlib import sha256

    return sha256(data).hexdigest()


def seal(tag: bytes, payload: bytes) -> bytes:
    """``tag + digest(tag + payload) + payload`` (see :func:`gilgamesh.loader.finder.unseal`)."""
    return tag + digest(tag + payload) + payload


def atomic_write(path: str, data: bytes, mode: int = 0o644) -> bool:
    """Write ``data`` to ``path`` (readers see the old file or the new one); False if impossible."""
    tmp = f"{path}.{os.getpid()}-{_get_ident()}.tmp"  # unique per writer: process and thread
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return True
    except OSError:
        unlink_quietly(tmp)
        return False


def write_code(path: str, payload: tuple) -> bool:
    import marshal

    return atomic_write(path, seal(CODE_TAG, marshal.dumps(payload)))


def write_memo(path: str, value) -> bool:
    import marshal

    return atomic_write(path, seal(MEMO_TAG, marshal.dumps(value)))


def read_notebook(root: str, sha256: str) -> bytes | None:
    """Cached notebook bytes, None if absent; IntegrityError if they do not hash to ``sha256``."""
    path = notebook_path(root, sha256)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if sha256_hex(data) != sha256:
        from gilgamesh.errors import IntegrityError

        raise IntegrityError(
            f"integrity check failed for the cached notebook {path}: expected sha256 {sha256}, "
            f"got {sha256_hex(data)} (the file was altered or damaged)"
        )
    return data


def write_notebook(root: str, sha256: str, data: bytes) -> bool:
    path = notebook_path(root, sha256)
    return os.path.exists(path) or atomic_write(path, data)


def write_sources(directory: str, files: list[tuple[str, str]]) -> bool:
    """Write ``(basename, text)`` files as one directory, all at once (read-only: display copies)."""
    if os.path.isdir(directory):
        return True
    tmp = os.path.join(os.path.dirname(directory), f".tmp-{os.path.basename(directory)}-{os.getpid()}-{_get_ident()}")
    try:
        os.makedirs(tmp, exist_ok=True)
        for basename, text in files:
            with open(os.open(os.path.join(tmp, basename), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o444), "wb") as f:
                f.write(text.encode("utf-8"))
        os.rename(tmp, directory)
        return True
    except OSError:
        remove_tree(tmp)
        return os.path.isdir(directory)  # another process may have won the race


def remove_tree(path: str) -> None:
    """Remove a directory of files (one level), quietly: caches are best effort."""
    try:
        for entry in os.listdir(path):
            os.unlink(os.path.join(path, entry))
        os.rmdir(path)
    except OSError:
        pass


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

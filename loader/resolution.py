"""Choosing the version a spec names, once per process, from the registry or (offline) the cache.

A :class:`Session` holds what one process has decided: a snapshot of the index of each API it
touched (read once) and the version each spelling resolved to. Resolutions therefore stay put
for the life of the process, which keeps a session reproducible, until :func:`reset`
(``gilgamesh.refresh()``) starts a new session.

The warm path (a spec this machine has resolved before against the same index) reads the API's
index file from the registry, hashes it and reads the resolution memo kept under that hash in the
cache: no ``json``, no version parsing. Anything else (a new spec, a changed index) goes through
:class:`~gilgamesh.versions.VersionSet` and adds a memo. When the registry is unreachable, the
copy of the index last seen stands in for it, with a warning.

This module is on the warm import path: ``os``, ``time`` and the loader's cache only.
"""

import os
import time
from _thread import RLock

from gilgamesh.config import cache_dir, is_url, registry_location

from . import CacheIntegrityWarning, OfflineWarning, cache, warn

__all__ = ["Resolved", "ApiIndex", "Session", "session", "reset"]


class Resolved:
    """What one spelling (``name``, module ``part``) resolved to in this process."""

    __slots__ = ("name", "part", "version", "sha256", "yanked", "yank_reason", "warning", "index")

    def __init__(self, name, part, version, sha256, yanked, yank_reason, warning, index):
        self.name = name
        self.part = part  # "v1_2", or "" for an unpinned import
        self.version = version
        self.sha256 = sha256
        self.yanked = yanked
        self.yank_reason = yank_reason
        self.warning = warning
        self.index = index  # the ApiIndex it was resolved against

    @property
    def module_name(self) -> str:
        """The canonical module of the exact version: ``gilgamesh.api.langmuir.v1_2_0``."""
        return f"gilgamesh.api.{self.name}.v{self.version.replace('.', '_')}"

    def __repr__(self) -> str:
        return f"Resolved({self.name}@{self.version}, part={self.part!r})"


class ApiIndex:
    """One API's index as this process sees it, with the resolutions already made against it."""

    __slots__ = ("name", "location", "data", "key", "memo_dir", "offline", "fetched_at", "resolutions", "_versions")

    def __init__(self, name, location, data, key, memo_dir, offline, fetched_at):
        self.name = name
        self.location = location  # the registry (path or URL) it came from
        self.data = data  # the index bytes
        self.key = key  # their digest: names the memo directory of this very index
        self.memo_dir = memo_dir
        self.offline = offline  # True: the registry was unreachable, this is the cached copy
        self.fetched_at = fetched_at  # when this index was first seen (None: not read on the warm path)
        self.resolutions: dict = {}  # part -> (version, sha256, yanked, yank_reason, warning)
        self._versions = None

    def resolve(self, part: str) -> tuple:
        """``(version, sha256, yanked, yank_reason, warning)`` for a module part (``""``: unpinned)."""
        entry = self.resolutions.get(part)
        if entry is None:
            # Only a well-formed part names a memo file (and none can be "@unpinned");
            # anything else gets its error from _resolve.
            memo = os.path.join(self.memo_dir, self.key, part or "@unpinned")
            entry = _read_memo(memo) if part == "" or (part.isascii() and part.isidentifier()) else None
            if not (isinstance(entry, tuple) and len(entry) == 5):
                entry = self._resolve(part)
                cache.write_memo(memo, entry)
            self.resolutions[part] = entry
        return entry

    def _resolve(self, part: str) -> tuple:
        from gilgamesh.versions import Spec, VersionSet, spec_from_module_part

        spec = Spec("") if part == "" else spec_from_module_part(part)
        versions = self.versions()
        chosen = VersionSet(
            self.name, ((v, e.get("yanked", False), e.get("yank_reason")) for v, e in versions.items())
        ).resolve(spec)
        return (chosen.version, versions[chosen.version]["sha256"], chosen.yanked, chosen.yank_reason, chosen.warning)

    def versions(self) -> dict:
        """``{version: index entry}``, parsed on first use."""
        if self._versions is None:
            import json

            self._versions = json.loads(self.data)["versions"]
        return self._versions


def _read_memo(path: str):
    """A memo file's value; None if absent, or if altered (then discarded, with a warning)."""
    try:
        return cache.read_memo(path)
    except Exception as e:
        from gilgamesh.errors import IntegrityError

        if not isinstance(e, IntegrityError):
            raise
        warn(f"{e}; discarded (it is rebuilt from the registry)", CacheIntegrityWarning)
        _unlink(path)
        return None


def _is_key(key) -> bool:
    """A memo directory name as :func:`cache.digest` makes them (never a path of another shape)."""
    return isinstance(key, str) and len(key) == 2 * cache.DIGEST_SIZE and all(c in "0123456789abcdef" for c in key)


def _unavailable(e: BaseException) -> bool:
    from gilgamesh.errors import RegistryUnavailable

    return isinstance(e, (RegistryUnavailable, OSError))


class Session:
    """The resolutions of one process (until ``gilgamesh.refresh()``)."""

    def __init__(self):
        self.indexes: dict = {}  # name -> ApiIndex
        self.resolved: dict = {}  # (name, part) -> Resolved
        self.warned: set = set()  # (name, part) whose resolution warning was shown
        self._readers: dict = {}
        self._lock = RLock()

    # -- resolving --------------------------------------------------------------------------
    def index(self, name: str) -> ApiIndex:
        """The index of API ``name`` (read once per session); raise if it does not exist."""
        idx = self.indexes.get(name)
        if idx is None:
            with self._lock:
                idx = self.indexes.get(name)
                if idx is None:
                    idx = self.indexes[name] = self._load_index(name)
        return idx

    def resolve(self, name: str, part: str) -> Resolved:
        """The version module ``part`` (``"v1_2"``; ``""``: unpinned) of ``name`` resolves to."""
        key = (name, part)
        r = self.resolved.get(key)
        if r is None:
            with self._lock:
                r = self.resolved.get(key)
                if r is None:
                    idx = self.index(name)
                    r = self.resolved[key] = Resolved(name, part, *idx.resolve(part), idx)
        return r

    def _load_index(self, name: str) -> ApiIndex:
        location = registry_location()
        memo_dir = cache.memo_dir(cache_dir(), location, name)
        try:
            data = self._fetch_http_index(location, name) if is_url(location) else _read_local_index(location, name)
        except Exception as e:
            if not _unavailable(e):
                raise
            return self._offline_index(location, name, memo_dir, e)
        key = cache.digest(data).hex()
        copy_path = os.path.join(memo_dir, key, "index")
        fetched_at = None
        if not os.path.exists(copy_path):
            # A new index: remember it for offline use before anything resolves against it, and
            # forget the memos of the one it replaces (they are never used again).
            fetched_at = time.time()
            latest_path = os.path.join(memo_dir, "latest")
            previous = _read_memo(latest_path)
            cache.write_memo(copy_path, (location, name, fetched_at, data))
            if cache.write_memo(latest_path, (location, name, key, fetched_at)) and isinstance(previous, tuple) \
                    and len(previous) == 4 and _is_key(previous[2]) and previous[2] != key:
                cache.remove_tree(os.path.join(memo_dir, previous[2]))
        return ApiIndex(name, location, data, key, memo_dir, False, fetched_at)

    def _offline_index(self, location: str, name: str, memo_dir: str, error: BaseException) -> ApiIndex:
        from gilgamesh.errors import RegistryUnavailable

        reason = getattr(error, "message", None) or str(error)
        # An altered memo raises IntegrityError here: offline there is nothing else to trust.
        latest = cache.read_memo(os.path.join(memo_dir, "latest"))
        copy = None
        if isinstance(latest, tuple) and len(latest) == 4 and latest[:2] == (location, name) and _is_key(latest[2]):
            copy = cache.read_memo(os.path.join(memo_dir, latest[2], "index"))
        if not (isinstance(copy, tuple) and len(copy) == 4 and copy[:2] == (location, name)):
            raise RegistryUnavailable(
                f"{reason}; {name} was never imported from {location} on this machine, "
                "so nothing is cached to import offline"
            ) from None
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(copy[2]))
        warn(f"{reason}; {name} resolves offline from its index as seen on {when}", OfflineWarning)
        return ApiIndex(name, location, copy[3], latest[2], memo_dir, True, copy[2])

    def reader(self, location: str):
        """A registry reader for ``location`` (one per session)."""
        reader = self._readers.get(location)
        if reader is None:
            from gilgamesh.registry import open_reader

            reader = self._readers[location] = open_reader(location)
        return reader

    def _fetch_http_index(self, location: str, name: str) -> bytes:
        import json

        index = self.reader(location).api_index(name)
        return json.dumps(index, sort_keys=True, separators=(",", ":")).encode()

    # -- content ----------------------------------------------------------------------------
    def notebook_bytes(self, r: Resolved) -> bytes:
        """The notebook ``r`` names: from the cache, else from the registry (then cached)."""
        from gilgamesh.errors import IntegrityError, RegistryUnavailable

        root = cache_dir()
        try:
            data = cache.read_notebook(root, r.sha256)
        except IntegrityError as e:
            if r.index.offline:
                raise
            warn(f"{e}; fetching it again from the registry", CacheIntegrityWarning)
            _unlink(cache.notebook_path(root, r.sha256))
            data = None
        if data is not None:
            return data
        location = r.index.location
        try:
            if r.index.offline:
                raise RegistryUnavailable(f"the registry at {location} is unreachable")
            if is_url(location):
                data = self.reader(location).notebook_bytes(r.name, r.version)
            else:
                data = _read_local_blob(location, r.sha256, f"{r.name}@{r.version}")
        except Exception as e:
            if not _unavailable(e):
                raise
            raise RegistryUnavailable(
                f"{getattr(e, 'message', None) or e}; {r.name}@{r.version} is not in the local cache"
            ) from None
        if cache.sha256_hex(data) != r.sha256:
            raise IntegrityError(
                f"integrity check failed for {r.name}@{r.version} from {location}: "
                f"expected sha256 {r.sha256}, got {cache.sha256_hex(data)}"
            )
        cache.write_notebook(root, r.sha256, data)
        return data


# The registry directory layout (registry/layout.py, checked by the tests): spelled out here
# because importing the registry package would cost every warm import two module loads.
def _index_file(location: str, name: str) -> str:
    return os.path.join(location, "index", name + ".json")


def _journal_file(location: str) -> str:
    return os.path.join(location, "journal.json")


def _blob_file(location: str, sha256: str) -> str:
    return os.path.join(location, "blobs", sha256 + ".ipynb")


def _read_local_index(location: str, name: str) -> bytes:
    """The index file of ``name`` in a registry directory (bytes, unparsed)."""
    path = _index_file(location, name)
    if not os.path.exists(_journal_file(location)):
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            pass
    # The slow path says why: no registry (RegistryUnavailable), no such API, or a journal
    # left by a writer that died, which the reader settles before anything is read.
    from gilgamesh.errors import ApiNotFound, RegistryUnavailable
    from gilgamesh.registry.reader import LocalReader

    LocalReader(location)
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise ApiNotFound(f"no API named {name!r} in the registry at {location}") from None
    except OSError as e:
        raise RegistryUnavailable(f"cannot read the registry at {location}: {e}") from None


def _read_local_blob(location: str, sha256: str, label: str) -> bytes:
    from gilgamesh.errors import IntegrityError, RegistryUnavailable
    from gilgamesh.registry.layout import Layout

    try:
        with open(_blob_file(location, sha256), "rb") as f:
            return f.read()
    except FileNotFoundError:
        if not Layout(location).exists():
            raise RegistryUnavailable(f"no registry at {location}") from None
        raise IntegrityError(f"the registry at {location} lacks the content of {label}") from None


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


_session = Session()


def session() -> Session:
    """The current session of this process."""
    return _session


def reset() -> None:
    """Forget every resolution: the next import resolves against the registry anew."""
    global _session
    _session = Session()

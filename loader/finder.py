"""The import path of ``gilgamesh.api``: the finder, the resolution of specs, the caches.

This is the one module of the loader that a warm import runs (a version this machine has imported
before): the finder, the modules it hands out, the process's resolutions and the readers of the
on-disk caches. They share a module because every module a fresh process loads costs it about
0.1 ms, and a warm import must cost about what importing a ``.py`` from its ``.pyc`` costs
(``bench/bench_import.py``). What the caches do not hold yet (a new spec, a new index, an HTTP or
unreachable registry, a version to compile) is :mod:`gilgamesh.loader.fetch`, imported on demand,
as are the compiler, the documentation and the errors. Only built-in or always-loaded modules
are imported here (``os``, ``sys``, ``marshal``, ``_imp``, ``_thread``): not
``importlib.machinery``, ``types``, ``json`` or ``re``.

**Names the finder owns**, and what they become:

- ``gilgamesh.api.<name>``: a light handle (:class:`ApiHandle`). Importing it runs no model code;
  attribute access loads the highest release, with a warning that the import is unpinned.
- ``gilgamesh.api.<name>.v<X>[_<Y>[_<Z>[aN|bN|rcN]]]``: a version. The exact spelling
  (``v1_2_0``) is the canonical module of that version; any other spelling (``v1_2``, ``v1``)
  that resolves to it is the very same module object under a second name in ``sys.modules``,
  so one exact version is one module per process, whichever spelling reached it.

Every other name gets ``None``: the finder never raises for a name it does not own. Resolution
(which version a spelling names) happens in ``find_spec``; the loader's ``exec_module`` gets the
code (the code cache, else the compiler) and runs it into an :class:`ApiModule`, a ``ModuleType``
subclass because a module *instance* cannot carry its own ``_repr_markdown_`` (Jupyter looks
special methods up on the type): every API module renders its narrative, with the equations.

**Resolution.** A :class:`Session` holds what one process has decided: a snapshot of the index of
each API it touched (read once) and the version each spelling resolved to. Resolutions stay put
for the life of the process, which keeps a session reproducible, until :func:`refresh`. A warm
resolution reads the API's index file from the registry, hashes it and reads the memo kept under
that hash: no ``json``, no version parsing. Anything else (a new spec, a changed index) goes
through :class:`~gilgamesh.versions.VersionSet` and adds a memo. When the registry is
unreachable, the copy of the index last seen stands in for it, with a warning.

**The caches**, keyed by content and verified on every read::

    <cache_dir()>/
      notebooks/<sha256>.ipynb             notebook bytes; the name is the digest of the content
      code/<sha256>-<magic>-<format>.code  compiled cells and documentation data (sealed)
      source/<sha256[:16]>/<name>@<version> cell <n>.py
                                           the cell sources that tracebacks and debuggers show
      index-<format>/<registry key>/<name>/
                                           per API of one registry (sealed; key: digest of the location)
          latest                           which index was seen last: (location, name, key, fetched_at)
          <key>/index                      a copy of that index: (location, name, fetched_at, bytes)
          <key>/<module part>              a spec resolved against it: (version, sha256, yanked, reason, warning)
          <key>/@unpinned                  the same for an import without a spec

``<key>`` is the digest of the index bytes: a resolution is only ever reused against the very
index it was made from. A *sealed* file is ``tag + digest(tag + payload) + payload``: the tag
names the kind, the format and (for code) the Python magic number, so a file written by another
Python or another format is refused, and a file altered after it was written fails its digest.
The digest is the keyed SipHash that hash-based ``.pyc`` files use (``importlib.util.source_hash``):
it is built into the interpreter, where sha256 would cost every warm import a module load. A
digest stored next to its payload guards against damage and edits, not against someone who
rewrites the whole file (who could recompute any digest stored there, sha256 included); what *is*
trusted, the notebook, is verified against the sha256 the registry published. Published content
never changes, so nothing here expires.

Writes are atomic (a temporary file renamed over the target) but not fsynced: after a crash a torn
entry fails its digest and is rebuilt, which is all a cache needs. A cache that cannot be written
(read-only home, full disk) makes imports slower, never failing.
"""

import marshal
import os
import sys
from _imp import source_hash as _source_hash
from _thread import RLock

try:
    # The import system itself, always loaded; importlib.util would cost a fresh process
    # importlib, warnings and contextlib.
    from _frozen_importlib_external import MAGIC_NUMBER
except ImportError:  # pragma: no cover - other implementations
    from importlib.util import MAGIC_NUMBER

from gilgamesh.config import cache_dir, is_url, registry_location

from . import CacheIntegrityWarning, UnpinnedImportWarning, YankedVersionWarning, warn

__all__ = [
    # the import system
    "ApiFinder", "ApiHandle", "ApiModule", "VersionLoader", "AliasLoader", "execute", "compiled",
    "install", "uninstall", "use", "latest", "refresh", "PREFIX",
    # resolution
    "Resolved", "ApiIndex", "Session", "session", "reset",
    # reading the caches (gilgamesh.loader.fetch writes them)
    "CODE_FORMAT", "CODE_TAG", "MEMO_TAG", "DIGEST_SIZE", "MAGIC_NUMBER", "digest", "unseal", "code_path",
    "notebook_path", "source_dir", "memo_dir", "read_code", "read_memo", "read_memo_quietly",
]


# == the import system =============================================================================
PREFIX = "gilgamesh.api."

# What importlib.machinery.ModuleSpec and types.ModuleType/FunctionType are: named through objects
# every process has, because a fresh process without them pays for importlib, warnings and types.
ModuleSpec = type(sys.__spec__)
ModuleType = type(sys)
FunctionType = type(lambda: None)


def _is_api_name(name: str) -> bool:
    """``[a-z][a-z0-9_]{0,63}``, without ``re`` (a keyword passes here; no index can have its name)."""
    return 0 < len(name) <= 64 and name.isascii() and name.isidentifier() and name.islower() and name[0] != "_"


def _as_import_error(e: BaseException, fullname: str) -> BaseException:
    from .errors import as_import_error

    return as_import_error(e, fullname)


class ApiFinder:
    """``sys.meta_path`` finder for ``gilgamesh.api.*`` (see the module docstring)."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(PREFIX):
            return None
        parts = fullname[len(PREFIX):].split(".")
        name = parts[0]
        if name[:1] == "_" or len(parts) > 2:
            return None  # dunder probes; deeper names are not packages
        try:
            if not _is_api_name(name):
                from gilgamesh.versions import check_name

                check_name(name)  # raises InvalidName with the grammar in its message
            current = session()
            if len(parts) == 1:
                current.index(name)  # the API must exist; its index is read once anyway
                return ModuleSpec(fullname, self, is_package=True)  # the finder loads handles
            resolved = current.resolve(name, parts[1])
        except Exception as e:
            raise _as_import_error(e, fullname) from None
        canonical = resolved.module_name
        if canonical == fullname:
            return ModuleSpec(fullname, VersionLoader(resolved), origin=f"gilgamesh:{name}@{resolved.version}",
                              loader_state=resolved)
        return ModuleSpec(fullname, AliasLoader(canonical), origin=f"gilgamesh:{name}@{resolved.version}",
                          loader_state=resolved)

    def invalidate_caches(self) -> None:
        """Resolutions stay put on purpose; ``gilgamesh.refresh()`` forgets them."""

    # The loader of the handles (a version has a loader of its own).
    def create_module(self, spec):
        module = ApiHandle(spec.name)
        name = spec.name[len(PREFIX):]
        module.__doc__ = (
            f"The API {name!r}: import a version, e.g. gilgamesh.api.{name}.v1_2 "
            f"(or gilgamesh.use({name + '@1.2'!r})). Attribute access here loads the latest release."
        )
        return module

    def exec_module(self, module):
        pass

    def __repr__(self) -> str:
        return "<gilgamesh.loader.finder.ApiFinder>"


class ApiHandle(ModuleType):
    """``gilgamesh.api.<name>``: attribute access loads the highest release (unpinned)."""

    def __getattr__(self, attr: str):
        if attr[:1] == "_":
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")
        if attr[:1] == "v" and attr[1:2].isdigit():
            # A version spelling: gilgamesh.api.langmuir.v1_2 works as an attribute, too.
            try:
                __import__(f"{self.__name__}.{attr}")
            except ModuleNotFoundError as e:
                raise AttributeError(str(e)) from e
            return sys.modules[f"{self.__name__}.{attr}"]
        return getattr(latest(self.__name__[len(PREFIX):]), attr)

    def __repr__(self) -> str:
        return f"<module {self.__name__!r} (API handle; import a version: {self.__name__}.v1_2)>"

    def _repr_markdown_(self) -> str:
        from .docs import handle_markdown

        return handle_markdown(self.__name__[len(PREFIX):])


class VersionLoader:
    """Loads the canonical module of one exact version: code from the cache or the compiler."""

    def __init__(self, resolved: "Resolved"):
        self.resolved = resolved

    def create_module(self, spec):
        return ApiModule(spec.name)

    def exec_module(self, module):
        r = self.resolved
        if r.warning:  # an exact pin of a yanked version (ranges skip yanked versions)
            warn(r.warning, YankedVersionWarning)
        execute(module, compiled(r))

    def is_package(self, fullname) -> bool:
        return False

    def get_source(self, fullname) -> str:
        """The import cells, one after the other (each cell's own file is what tracebacks show)."""
        return "\n\n".join(source for _, _, source, _ in compiled(self.resolved)[6])


class AliasLoader:
    """Loads a range spelling (``v1_2``) as the canonical module of the version it resolved to."""

    def __init__(self, canonical: str):
        self.canonical = canonical
        self._spec = None

    def create_module(self, spec):
        __import__(self.canonical)
        module = sys.modules[self.canonical]
        self._spec = module.__spec__
        return module

    def exec_module(self, module):
        # The import system stamps the alias spec on the module; the module keeps its own.
        module.__spec__ = self._spec


def compiled(r: "Resolved") -> tuple:
    """The compiled payload of an exact version: from the code cache, else compiled (and cached)."""
    root = cache_dir()
    path = code_path(root, r.sha256)
    source_root = source_dir(root, r.sha256)
    try:
        payload = read_code(path, r.sha256)
    except Exception as e:  # IntegrityError: never run altered code, rebuild from the notebook
        from gilgamesh.errors import IntegrityError

        if not isinstance(e, IntegrityError):
            raise
        warn(f"{e}; discarded, {r.name}@{r.version} is compiled again from its notebook", CacheIntegrityWarning)
        payload = None
    if payload is not None and payload[0] == r.name and payload[1] == r.version and payload[3] in (source_root, ""):
        return payload
    from .fetch import compile_and_cache

    return compile_and_cache(session(), r, path, source_root)


# -- the API module and running its cells ----------------------------------------------------
class ApiModule(ModuleType):
    """A published API notebook imported as a module (one object per exact version)."""

    def __repr__(self) -> str:
        state = getattr(getattr(self, "__spec__", None), "loader_state", None)
        label = f" ({state.name}@{state.version})" if state is not None else ""
        return f"<module {self.__name__!r}{label}>"

    def _repr_markdown_(self) -> str:
        from .docs import module_markdown

        return module_markdown(self)


def execute(module: ModuleType, payload: tuple) -> None:
    """Run the compiled cells of ``payload`` into ``module`` and attach the documentation."""
    name, version, _, source_root, _, narrative, cells, docs = payload
    if source_root:
        if not os.path.isdir(source_root):  # cleaned from the cache: tracebacks need the files
            from .compiler import source_files
            from .fetch import write_sources

            write_sources(source_root, source_files(payload))
    else:
        from .fetch import register_in_linecache

        register_in_linecache(cells)
    module.__doc__ = narrative
    module.__version__ = version
    namespace = module.__dict__
    for number, _, _, code in cells:
        try:
            exec(code, namespace)
        except Exception as e:
            e.add_note(f"(raised while importing {name}@{version}: cell {number})")
            raise
    if docs:
        _attach_docs(module, cells, docs)


def _attach_docs(module: ModuleType, cells: tuple, docs: tuple) -> None:
    """A function or class without a docstring takes the markdown cell right above its cell."""
    filenames = {number: filename for number, filename, _, _ in cells}
    namespace = module.__dict__
    for number, names, markdown in docs:
        for attr in names:
            obj = namespace.get(attr)
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            if isinstance(obj, FunctionType):
                # Defined in this very cell (a later cell may have redefined the name).
                if obj.__doc__ is not None or obj.__code__.co_filename != filenames[number]:
                    continue
            elif not isinstance(obj, type):  # a class body without __doc__ (see the compiler)
                continue
            try:
                obj.__doc__ = markdown
            except (AttributeError, TypeError):
                pass


# -- the unpinned handle, use() and refresh() -------------------------------------------------
def latest(name: str) -> ModuleType:
    """The highest release of ``name`` (resolved once per process), with the unpinned warning."""
    current = session()
    try:
        r = current.resolve(name, "")
    except Exception as e:
        raise _as_import_error(e, PREFIX + name) from None
    if (name, "") not in current.warned:
        current.warned.add((name, ""))
        warn(r.warning, UnpinnedImportWarning)
    __import__(r.module_name)
    return sys.modules[r.module_name]


def use(text: str) -> ModuleType:
    """``use("langmuir@1.2")``: the module ``gilgamesh.api.langmuir.v1_2`` (imported if needed).

    Without ``@SPEC`` it is the highest release, with the unpinned warning.
    """
    from gilgamesh.versions import module_part_for, parse_name_spec

    if not isinstance(text, str):
        raise TypeError(f"use() takes a string such as 'langmuir@1.2', not {type(text).__name__}")
    install()
    name, spec = parse_name_spec(text)
    if spec.is_unpinned:
        __import__(PREFIX + name)  # the handle first: a missing API fails as an import error
        return latest(name)
    fullname = f"{PREFIX}{name}.{module_part_for(spec)}"
    __import__(fullname)
    return sys.modules[fullname]


def refresh() -> None:
    """Forget every resolution of this process; the next import of a spec resolves anew.

    Modules of exact versions already imported stay (one module per exact version per process);
    the range spellings (``v1_2``) that pointed at them are dropped.
    """
    reset()
    for key in [k for k in sys.modules if k.startswith(PREFIX)]:
        module = sys.modules.get(key)
        if module is not None and getattr(module, "__name__", key) != key:
            del sys.modules[key]
            handle_name, _, attr = key.rpartition(".")
            handle = sys.modules.get(handle_name)
            if handle is not None and handle.__dict__.get(attr) is module:
                delattr(handle, attr)


# -- installation -----------------------------------------------------------------------------
_FINDER = ApiFinder()


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(f, ApiFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    """Remove the finder from ``sys.meta_path`` (modules already imported stay)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, ApiFinder)]


# == resolution ====================================================================================
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

    def memo_path(self, part: str) -> str:
        """The memo of a module part resolved against this index (no part can be "@unpinned")."""
        return os.path.join(self.memo_dir, self.key, part or "@unpinned")

    def resolve(self, part: str) -> tuple:
        """``(version, sha256, yanked, yank_reason, warning)`` for a module part (``""``: unpinned)."""
        entry = self.resolutions.get(part)
        if entry is None:
            # Only a well-formed part names a memo file; anything else gets its error below.
            if part == "" or (part.isascii() and part.isidentifier()):
                entry = read_memo_quietly(self.memo_path(part))
            if not (isinstance(entry, tuple) and len(entry) == 5):
                from .fetch import resolve_anew

                entry = resolve_anew(self, part)
            self.resolutions[part] = entry
        return entry

    def versions(self) -> dict:
        """``{version: index entry}``, parsed on first use."""
        if self._versions is None:
            import json

            self._versions = json.loads(self.data)["versions"]
        return self._versions


def fresh_index(location: str, name: str, directory: str, data: bytes) -> ApiIndex:
    """An index just read from the registry; a new one is remembered for offline use."""
    key = digest(data).hex()
    fetched_at = None
    if not os.path.exists(os.path.join(directory, key, "index")):
        from .fetch import remember_index

        fetched_at = remember_index(location, name, directory, key, data)
    return ApiIndex(name, location, data, key, directory, False, fetched_at)


class Session:
    """The resolutions of one process (until ``gilgamesh.refresh()``)."""

    def __init__(self):
        self.indexes: dict = {}  # name -> ApiIndex
        self.resolved: dict = {}  # (name, part) -> Resolved
        self.warned: set = set()  # (name, part) whose resolution warning was shown
        self._readers: dict = {}
        self._lock = RLock()

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
        directory = memo_dir(cache_dir(), location, name)
        data = None if is_url(location) else _read_local_index(location, name)
        if data is None:
            from .fetch import load_index

            return load_index(self, location, name, directory)
        return fresh_index(location, name, directory, data)

    def reader(self, location: str):
        """A registry reader for ``location`` (one per session)."""
        reader = self._readers.get(location)
        if reader is None:
            from gilgamesh.registry import open_reader

            reader = self._readers[location] = open_reader(location)
        return reader


# The registry directory layout (registry/layout.py, checked by the tests): spelled out here
# because importing the registry package would cost every warm import two module loads.
def _index_file(location: str, name: str) -> str:
    return os.path.join(location, "index", name + ".json")


def _journal_file(location: str) -> str:
    return os.path.join(location, "journal.json")


def _read_local_index(location: str, name: str) -> bytes | None:
    """The index file of ``name`` in a registry directory (bytes, unparsed); None if the cold path
    must say why it is not there, or read around a write in progress (a journal)."""
    if os.path.exists(_journal_file(location)):
        return None
    try:
        with open(_index_file(location, name), "rb") as f:
            return f.read()
    except OSError:
        return None


_session = Session()


def session() -> Session:
    """The current session of this process."""
    return _session


def reset() -> None:
    """Forget every resolution: the next import resolves against the registry anew."""
    global _session
    _session = Session()


# == the caches ====================================================================================
# Bump when what the compiler (compiler.py) produces changes: entries of another format are
# then simply not found (it is part of the file name), never mistaken for altered ones.
CODE_FORMAT = 2
MEMO_FORMAT = 1  # likewise, part of the directory name
CODE_TAG = b"GILGAMESH CODE %d " % CODE_FORMAT + MAGIC_NUMBER
MEMO_TAG = b"GILGAMESH INDEX %d " % MEMO_FORMAT
DIGEST_SIZE = 8
_DIGEST_KEY = int.from_bytes(b"gilgames", "little")  # any fixed 63-bit key


def digest(data: bytes) -> bytes:
    """The 8-byte keyed SipHash of ``data`` (what seals the cache files)."""
    return _source_hash(_DIGEST_KEY, data)


def _integrity_error(message: str):
    from gilgamesh.errors import IntegrityError

    return IntegrityError(message)


def unseal(tag: bytes, data: bytes, path: str) -> bytes:
    """The payload of a sealed file; raise :class:`IntegrityError` if it was altered."""
    n = len(tag)
    if data[:n] != tag:
        raise _integrity_error(f"integrity check failed for the cache file {path}: unknown header")
    payload = data[n + DIGEST_SIZE:]
    if digest(data[:n] + payload) != data[n:n + DIGEST_SIZE]:
        raise _integrity_error(
            f"integrity check failed for the cache file {path}: its content does not match its "
            "digest (the file was altered or damaged)"
        )
    return payload


def _read(path: str) -> bytes | None:
    """The file's bytes, or None if there is none (or no readable cache at all)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


# -- paths ------------------------------------------------------------------------------------
def code_path(root: str, sha256: str) -> str:
    return os.path.join(root, "code", f"{sha256}-{MAGIC_NUMBER.hex()}-{CODE_FORMAT}.code")


def notebook_path(root: str, sha256: str) -> str:
    return os.path.join(root, "notebooks", sha256 + ".ipynb")


def source_dir(root: str, sha256: str) -> str:
    return os.path.join(root, "source", sha256[:16])


def memo_dir(root: str, location: str, name: str) -> str:
    """Where the index memos of API ``name`` of the registry at ``location`` live."""
    return os.path.join(root, f"index-{MEMO_FORMAT}", digest(location.encode()).hex(), name)


# -- compiled code ----------------------------------------------------------------------------
def read_code(path: str, sha256: str) -> tuple | None:
    """The compiled payload for the notebook ``sha256``, None if absent; IntegrityError if altered.

    The payload is ``(name, version, sha256, source_root, summary, narrative, cells, docs)``,
    see :mod:`gilgamesh.loader.compiler`.
    """
    data = _read(path)
    if data is None:
        return None
    try:
        payload = marshal.loads(unseal(CODE_TAG, data, path))
    except (ValueError, EOFError, TypeError):
        raise _integrity_error(f"integrity check failed for the cache file {path}: unreadable") from None
    if not isinstance(payload, tuple) or len(payload) != 8 or payload[2] != sha256:
        raise _integrity_error(
            f"integrity check failed for the cache file {path}: it holds the code of another notebook"
        )
    return payload


# -- index memos ------------------------------------------------------------------------------
def read_memo(path: str):
    """A sealed marshal value (an index memo, see the module docstring), None if absent.

    Raises :class:`IntegrityError` if the file was altered or is unreadable.
    """
    data = _read(path)
    if data is None:
        return None
    try:
        return marshal.loads(unseal(MEMO_TAG, data, path))
    except (ValueError, EOFError, TypeError):
        raise _integrity_error(f"integrity check failed for the cache file {path}: unreadable") from None


def read_memo_quietly(path: str):
    """A memo's value; None if absent, or if altered (then discarded, with a warning)."""
    try:
        return read_memo(path)
    except Exception as e:
        from gilgamesh.errors import IntegrityError

        if not isinstance(e, IntegrityError):
            raise
        from .fetch import unlink_quietly

        warn(f"{e}; discarded (it is rebuilt from the registry)", CacheIntegrityWarning)
        unlink_quietly(path)
        return None

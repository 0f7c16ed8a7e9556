"""The import path of ``gilgamesh.api``: the finder, the resolution of specs, the caches.

This is the one module of the loader that a warm import runs (a version this machine has imported
before): the finder, the modules it hands out, the process's resolutions and the readers of the
on-disk caches. They share a module because every module a fresh process loads costs it about
0.1 ms, and a warm import must cost about what importing a ``.py`` from its ``.pyc`` costs
(``bench/bench_import.py``). What the caches do not hold yet (a new spec, a new index, an HTTP or
unreachable registry, a version to compile) is :mod:`gilgamesh.loader.fetch`, imported on demand,
as are the compiler, the documentation and the errors. Only built-in or always-loaded modules
are imported here (``os``, ``sys``, ``_thread``, and :mod:`gilgamesh.loader.cache`): not
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

**Session locks.** A ``gilgamesh.lock`` in the working directory (or the file ``GILGAMESH_LOCK``
names) maps every spelling a locked version satisfies to that version: the spelling then
resolves as the exact pin would, and the sha256 the registry publishes for it must be the locked
one (else the import is refused). A spelling the lock does not cover resolves as usual, with a
warning. The parsed lock is a memo too, under the digest of the file's bytes.

**Inside a published version** every ``gilgamesh.api`` mention was pinned by the compiler to the
dependency versions recorded at its publish (:mod:`gilgamesh.loader.compiler`), so its imports
are exact spellings whatever newer compatible versions exist, transitively; a process may hold
several versions of one API side by side. Running a version also compares the environment it was
validated in with this one (once per environment and version, remembered in the cache).

The cache layout and the sealed file format are :mod:`gilgamesh.loader.cache`'s.
"""

import os
import sys
from _thread import RLock

from gilgamesh.config import cache_dir, environment_warnings, is_url, lock_file, registry_location

from gilgamesh.loader import (
    CacheIntegrityWarning, DeprecatedVersionWarning, EnvironmentMismatchWarning, UnlockedImportWarning,
    UnpinnedImportWarning, YankedVersionWarning, warn,
)
from gilgamesh.loader.cache import (
    code_path, digest, environment_memo_path, lock_memo_path, memo_dir, notebook_path, pins_key,
    read_code, read_memo_quietly, source_dir,
)

__all__ = [
    # the import system
    "ApiFinder", "ApiHandle", "ApiModule", "VersionLoader", "AliasLoader", "execute", "compiled", "summary_of",
    "synopsis",
    "install", "uninstall", "use", "latest", "refresh", "PREFIX",
    # resolution
    "Resolved", "ApiIndex", "Session", "session", "reset",
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
    from gilgamesh.loader.errors import as_import_error

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
        loader = VersionLoader(resolved) if canonical == fullname else AliasLoader(canonical)
        # The origin is the notebook in the cache: its __file__, so help() and IPython's ``?``
        # name the notebook a version came from (not this file, the module type's).
        spec = ModuleSpec(fullname, loader, origin=notebook_path(cache_dir(), resolved.sha256), loader_state=resolved)
        spec.has_location = True
        return spec

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
        from gilgamesh.loader.docs import handle_markdown

        name = self.__name__[len(PREFIX):]
        return handle_markdown(name, session().index(name).versions())


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
        if r.deprecated:
            warn(f"{r.name}@{r.version} is deprecated: {r.deprecated}", DeprecatedVersionWarning)
        if r.environment and environment_warnings():
            _check_environment(r)
        execute(module, compiled(r), r)

    def is_package(self, fullname) -> bool:
        return False

    def get_source(self, fullname) -> str:
        """The import cells, one after the other (each cell's own file is what tracebacks show)."""
        return "\n\n".join(source for _, _, source, _ in compiled(self.resolved)["cells"])


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


def compiled(r: "Resolved") -> dict:
    """The compiled payload of an exact version: from the code cache, else compiled (and cached)."""
    root = cache_dir()
    pins = pins_key(r.dependencies)
    path = code_path(root, r.sha256, pins)
    source_root = source_dir(root, r.sha256, pins)
    try:
        payload = read_code(path, r.sha256)
    except Exception as e:  # IntegrityError: never run altered code, rebuild from the notebook
        from gilgamesh.errors import IntegrityError

        if not isinstance(e, IntegrityError):
            raise
        warn(f"{e}; discarded, {r.name}@{r.version} is compiled again from its notebook", CacheIntegrityWarning)
        payload = None
    if payload is not None and payload.get("name") == r.name and payload.get("version") == r.version \
            and payload.get("source_root") in (source_root, "") and payload.get("dependencies") == r.dependencies:
        return payload
    from gilgamesh.loader.fetch import compile_and_cache

    return compile_and_cache(r, path, source_root, session().reader)


def _environment_key() -> str:
    """Names this environment: the Python, and each ``sys.path`` entry with its modification time
    (installing or removing a distribution changes its directory's)."""
    parts = [sys.version]
    for entry in sys.path:
        try:
            parts.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
        except (OSError, ValueError):
            parts.append(entry)
    return digest("\0".join(parts).encode("utf-8", "surrogateescape")).hex()


def _check_environment(r: "Resolved") -> None:
    """Warn when this environment differs from the one ``r`` was validated in (major or minor)."""
    path = environment_memo_path(cache_dir(), _environment_key(), r.sha256)
    message = read_memo_quietly(path)
    if not isinstance(message, str):
        from gilgamesh.loader.fetch import environment_mismatch

        message = environment_mismatch(r.name, r.version, r.environment, path)
    if message:
        warn(message, EnvironmentMismatchWarning)


# -- the API module and running its cells ----------------------------------------------------
class ApiModule(ModuleType):
    """A published API notebook imported as a module (one object per exact version)."""

    def __repr__(self) -> str:
        state = getattr(getattr(self, "__spec__", None), "loader_state", None)
        label = f" ({state.name}@{state.version})" if state is not None else ""
        return f"<module {self.__name__!r}{label}>"

    def _repr_markdown_(self) -> str:
        from gilgamesh.loader.docs import module_markdown

        return module_markdown(self, summary_of(self))


def summary_of(module) -> str:
    """The one-line summary of an API module's version, from the index it was resolved against."""
    state = getattr(getattr(module, "__spec__", None), "loader_state", None)
    if state is None:
        return ""
    try:
        return state.index.versions()[state.version].get("summary", "") or ""
    except Exception:  # an index without summaries still documents
        return ""


def synopsis(name: str, version: str, summary: str) -> str:
    """The first line of an API module's ``__doc__`` (what ``help()`` prints after its name);
    the notebook's markdown narrative follows it."""
    summary = " ".join(summary.split()).rstrip(".")
    return f"{summary} ({name} {version})" if summary else f"{name} {version}"


def _published_references(r: "Resolved | None") -> dict:
    """The bibliography entries a version cites, as stored with it (its index entry)."""
    try:
        references = r.index.versions()[r.version].get("references") if r is not None else None
    except Exception:  # an index of before citations still documents
        return {}
    return references if isinstance(references, dict) else {}


def _help_text(markdown: str, r: "Resolved | None", listed: bool = True) -> str:
    """Markdown as ``help()`` shows it: citations as their labels, and (``listed``) the references
    they name below, as ``gilgamesh show`` does. Only a text that cites reads the index for them."""
    if "\\cite" not in markdown:
        return markdown
    from gilgamesh.documentation import citations

    references = _published_references(r)
    text = citations.text_citations(markdown, references)
    return text + citations.references_text(references, markdown) if listed else text


def execute(module: ModuleType, payload: dict, r: "Resolved | None" = None) -> None:
    """Run the compiled cells of ``payload`` into ``module`` and attach the documentation
    (``r``: the version it is, whose index entry holds the references its text cites)."""
    name, version, source_root = payload["name"], payload["version"], payload["source_root"]
    narrative, cells, docs = payload["narrative"], payload["cells"], payload["docs"]
    if source_root:
        if not os.path.isdir(source_root):  # cleaned from the cache: tracebacks need the files
            from gilgamesh.loader.cache import write_sources
            from gilgamesh.loader.compiler import source_files

            write_sources(source_root, source_files(payload))
    else:
        from gilgamesh.loader.fetch import register_in_linecache

        register_in_linecache(cells)
    module.__doc__ = f"{synopsis(name, version, payload['summary'])}\n\n{_help_text(narrative, r)}"
    if r is not None:
        r.narrative = narrative
    module.__version__ = version
    namespace = module.__dict__
    for number, _, _, code in cells:
        try:
            exec(code, namespace)
        except Exception as e:
            e.add_note(f"(raised while importing {name}@{version}: cell {number})")
            raise
    if docs:
        _attach_docs(module, cells, docs, r)


def _attach_docs(module: ModuleType, cells: tuple, docs: tuple, r: "Resolved | None" = None) -> None:
    """A function or class without a docstring takes the markdown cell right above its cell, when
    that cell documents it (``gilgamesh.notebook.documents``, applied by the compiler: the names
    of ``docs``), as the publish check and the docs read it."""
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
                obj.__doc__ = _help_text(markdown, r, listed=False)  # the module's help lists them
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
        if not r.locked:  # the session lock covers an unpinned import (its yank warning stays)
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
    """What one spelling (``name``, module ``part``) resolved to in this process.

    Its fields are the resolution entry's (:data:`gilgamesh.loader.cache.ENTRY_FIELDS`), read by name:
    the memo of the resolved-version record (:class:`gilgamesh.registry.store.resolved.ResolvedVersion`,
    :meth:`~gilgamesh.registry.store.resolved.ResolvedVersion.memo_entry`), made on the cold path.
    """

    __slots__ = ("name", "part", "index", "locked", "version", "sha256", "yanked", "yank_reason", "warning",
                 "dependencies", "environment", "deprecated", "narrative")

    def __init__(self, name: str, part: str, entry: dict, index: "ApiIndex", locked: bool = False):
        self.name = name
        self.part = part  # "v1_2", or "" for an unpinned import
        self.index = index  # the ApiIndex it was resolved against
        self.locked = locked  # True: chosen by the session lock
        self.version = entry["version"]
        self.sha256 = entry["sha256"]
        self.yanked = entry["yanked"]
        self.yank_reason = entry["yank_reason"]
        self.warning = entry["warning"]
        self.dependencies = entry["dependencies"]  # {name: exact version} recorded at publish
        self.environment = entry["environment"]  # {"python", "packages"} recorded at validation
        self.deprecated = entry["deprecated"]  # the deprecation message, or None
        self.narrative = None  # the notebook's markdown as written, once its module ran (the docs read it)

    @property
    def module_name(self) -> str:
        """The canonical module of the exact version: ``gilgamesh.api.langmuir.v1_2_0``."""
        return f"gilgamesh.api.{self.name}.v{self.version.replace('.', '_')}"

    def __repr__(self) -> str:
        return f"Resolved({self.name}@{self.version}, part={self.part!r})"


def _is_entry(entry) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("version"), str) and isinstance(entry.get("sha256"), str) \
        and "deprecated" in entry


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
        self.resolutions: dict = {}  # part -> resolution entry (a dict of ENTRY_FIELDS)
        self._versions = None

    def memo_path(self, part: str) -> str:
        """The memo of a module part resolved against this index (no part can be "@unpinned")."""
        return os.path.join(self.memo_dir, self.key, part or "@unpinned")

    def resolve(self, part: str) -> dict:
        """The resolution entry of a module part (``""``: unpinned); see ``Resolved``."""
        entry = self.resolutions.get(part)
        if entry is None:
            # Only a well-formed part names a memo file; anything else gets its error below.
            if part == "" or (part.isascii() and part.isidentifier()):
                entry = read_memo_quietly(self.memo_path(part))
            if not _is_entry(entry):
                from gilgamesh.loader.fetch import resolve_anew

                entry = resolve_anew(self.name, self.versions(), part, self.memo_path(part))
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
        from gilgamesh.loader.fetch import remember_index

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
        self._session_lock = False  # not read yet; then None (no lock file) or its parsed form

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
                    r = self.resolved[key] = self._resolve(name, part)
        return r

    def _resolve(self, name: str, part: str) -> Resolved:
        idx = self.index(name)
        lock = self.session_lock()
        if lock is None:
            return Resolved(name, part, idx.resolve(part), idx)
        pinned = lock["pins"].get(f"{name}.{part}")
        if pinned is None:
            r = Resolved(name, part, idx.resolve(part), idx)
            warn(f"{name}{'.' + part if part else ''} is not covered by the session lock {lock['path']}; "
                 f"it resolved to {r.version} (run 'gilgamesh lock' to add it)", UnlockedImportWarning)
            return r
        exact, sha256 = pinned
        entry = idx.resolve(exact)
        if entry["sha256"] != sha256:
            from gilgamesh.errors import IntegrityError

            raise IntegrityError(
                f"{name}@{entry['version']} is locked with sha256 {sha256} in {lock['path']}, but the "
                f"registry at {idx.location} publishes sha256 {entry['sha256']}: refused "
                "(a lock made against another registry? re-resolve with 'gilgamesh lock --upgrade')"
            )
        return Resolved(name, part, entry, idx, locked=True)

    def session_lock(self):
        """The session lock of this process, read once: None, or ``{"path", "pins"}``."""
        lock = self._session_lock
        if lock is False:
            with self._lock:
                lock = self._session_lock
                if lock is False:
                    lock = self._session_lock = _read_session_lock()
        return lock

    def _load_index(self, name: str) -> ApiIndex:
        location = registry_location()
        directory = memo_dir(cache_dir(), location, name)
        data = None if is_url(location) else _read_local_index(location, name)
        if data is None:
            from gilgamesh.loader.fetch import load_index

            data, offline, key, fetched_at = load_index(self.reader, location, name, directory)
            if offline:
                return ApiIndex(name, location, data, key, directory, True, fetched_at)
        return fresh_index(location, name, directory, data)

    def reader(self, location: str):
        """A registry reader for ``location`` (one per session)."""
        reader = self._readers.get(location)
        if reader is None:
            from gilgamesh.registry import open_reader

            reader = self._readers[location] = open_reader(location)
        return reader


def _read_session_lock():
    """``{"path", "pins": {"name.part": (exact part, sha256)}}`` of the lock file, or None."""
    path = lock_file()
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        from gilgamesh.errors import LockError

        raise LockError(f"cannot read the session lock {path}: {e.strerror or e}") from None
    memo = lock_memo_path(cache_dir(), data)
    parsed = read_memo_quietly(memo)
    if not (isinstance(parsed, dict) and isinstance(parsed.get("pins"), dict)):
        from gilgamesh.loader.fetch import parse_session_lock

        parsed = parse_session_lock(data, path, memo)
    return {"path": path, "pins": parsed["pins"]}


# The registry directory layout (registry/store/layout.py, checked by the tests): spelled out here
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



"""The meta-path finder of ``gilgamesh.api`` and the modules it hands out (DESIGN.md section 2).

Names it owns, and what they become:

- ``gilgamesh.api.<name>``: a light handle (:class:`ApiHandle`). Importing it runs no model code;
  attribute access loads the highest release, with a warning that the import is unpinned.
- ``gilgamesh.api.<name>.v<X>[_<Y>[_<Z>[aN|bN|rcN]]]``: a version. The exact spelling
  (``v1_2_0``) is the canonical module of that version; any other spelling (``v1_2``, ``v1``)
  that resolves to it is the very same module object under a second name in ``sys.modules``,
  so one exact version is one module per process, whichever spelling reached it.

Every other name gets ``None``: the finder never raises for a name it does not own.

Resolution (which version a spelling names) happens in ``find_spec`` through the process's
:class:`~gilgamesh.loader.resolution.Session`; the loader's ``exec_module`` gets the code (the code
cache, else the compiler) and runs it into an :class:`ApiModule`, a ``ModuleType`` subclass
because a module *instance* cannot carry its own ``_repr_markdown_`` (Jupyter looks special
methods up on the type): every API module renders its narrative, with the equations.

The warm path (code in the cache) imports nothing beyond this package's ``resolution`` and
``cache`` and ``gilgamesh.config``: every module load costs a fresh process about 0.1 ms, which
is why the finder, the loaders and the module type share this module.
"""

import os
import sys
from importlib.machinery import ModuleSpec
from keyword import iskeyword
from types import FunctionType, ModuleType

from gilgamesh.config import cache_dir

from . import CacheIntegrityWarning, UnpinnedImportWarning, YankedVersionWarning, cache, resolution, warn

__all__ = ["ApiFinder", "ApiHandle", "ApiModule", "VersionLoader", "AliasLoader", "execute", "compiled",
           "install", "uninstall", "use", "latest", "refresh", "PREFIX"]

PREFIX = "gilgamesh.api."


def _is_api_name(name: str) -> bool:
    """``[a-z][a-z0-9_]{0,63}`` and not a keyword, without ``re`` (the warm path avoids it)."""
    return (
        0 < len(name) <= 64 and name.isascii() and name.isidentifier() and name.islower()
        and name[0] != "_" and not iskeyword(name)
    )


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
            session = resolution.session()
            if len(parts) == 1:
                session.index(name)  # the API must exist; its index is read once anyway
                return ModuleSpec(fullname, _HANDLE_LOADER, is_package=True)
            resolved = session.resolve(name, parts[1])
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


class _HandleLoader:
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


_HANDLE_LOADER = _HandleLoader()


class VersionLoader:
    """Loads the canonical module of one exact version: code from the cache or the compiler."""

    def __init__(self, resolved: "resolution.Resolved"):
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


def compiled(r: "resolution.Resolved") -> tuple:
    """The compiled payload of an exact version: from the code cache, else compiled (and cached)."""
    root = cache_dir()
    path = cache.code_path(root, r.sha256)
    source_root = cache.source_dir(root, r.sha256)
    try:
        payload = cache.read_code(path, r.sha256)
    except Exception as e:  # IntegrityError: never run altered code, rebuild from the notebook
        from gilgamesh.errors import IntegrityError

        if not isinstance(e, IntegrityError):
            raise
        warn(f"{e}; discarded, {r.name}@{r.version} is compiled again from its notebook", CacheIntegrityWarning)
        payload = None
    if payload is not None and payload[0] == r.name and payload[1] == r.version and payload[3] in (source_root, ""):
        return payload
    return _compile_and_cache(r, path, source_root)


def _compile_and_cache(r: "resolution.Resolved", path: str, source_root: str) -> tuple:
    from .compiler import compile_notebook, source_files

    data = resolution.session().notebook_bytes(r)
    payload = compile_notebook(data, r.name, r.version, r.sha256, source_root)
    if not cache.write_sources(source_root, source_files(payload)):
        # No cell files (read-only cache): compile with <...> names kept in linecache instead.
        payload = compile_notebook(data, r.name, r.version, r.sha256, "")
    cache.write_code(path, payload)
    return payload


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


def _register_in_linecache(cells: tuple) -> None:
    """Without cell files (the cache is not writable) the sources go to ``linecache``."""
    import linecache

    for _, filename, source, _ in cells:
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def execute(module: ModuleType, payload: tuple) -> None:
    """Run the compiled cells of ``payload`` into ``module`` and attach the documentation."""
    name, version, _, source_root, _, narrative, cells, docs = payload
    if source_root:
        if not os.path.isdir(source_root):  # cleaned from the cache: tracebacks need the files
            from .compiler import source_files

            cache.write_sources(source_root, source_files(payload))
    else:
        _register_in_linecache(cells)
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
    session = resolution.session()
    try:
        r = session.resolve(name, "")
    except Exception as e:
        raise _as_import_error(e, PREFIX + name) from None
    if (name, "") not in session.warned:
        session.warned.add((name, ""))
        warn(r.warning, UnpinnedImportWarning)
    __import__(r.module_name)
    return sys.modules[r.module_name]


def use(text: str) -> ModuleType:
    """``use("langmuir@1.2")``: the module ``gilgamesh.api.langmuir.v1_2`` (imported if needed).

    Without ``@SPEC`` it is the highest release, with the unpinned warning.
    """
    from gilgamesh.versions import module_part_for, parse_name_spec

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
    resolution.reset()
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

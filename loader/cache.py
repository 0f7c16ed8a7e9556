"""The loader's on-disk caches: their layout and the sealed file format, read and write.

Everything here is keyed by content and verified on every read::

    <cache_dir()>/
      notebooks/<sha256>.ipynb             notebook bytes; the name is the digest of the content
      code/<sha256>[-<pins>]-<magic>-<format>.code
                                           compiled cells and documentation data (sealed);
                                           ``<pins>`` names the dependency versions it was pinned to
      source/<sha256[:16]>[-<pins>]/<name>@<version> cell <n>.py
                                           the cell sources that tracebacks and debuggers show
      index-<format>/<registry key>/<name>/
                                           per API of one registry (sealed; key: digest of the location)
          latest                           which index was seen last: {location, name, key, fetched_at}
          <key>/index                      a copy of that index: {location, name, fetched_at, data}
          <key>/<module part>              a spec resolved against it (see :data:`ENTRY_FIELDS`)
          <key>/@unpinned                  the same for an import without a spec
      lock-<format>/<digest of the lock file>
                                           a session lock file, parsed: {(name, part): (exact part, sha256)}
      environment-<format>/<digest of this environment>/<sha256>
                                           the environment warning of one version here ("" for none)

``<key>`` is the digest of the index bytes: a resolution is only ever reused against the very
index it was made from. A *sealed* file is ``tag + digest(tag + payload) + payload``: the tag
names the kind, the format and (for code) the Python magic number, so a file written by another
Python or another format is refused, and a file altered after it was written fails its digest.
Payloads are marshalled dicts, read by field name. The digest is the keyed SipHash that
hash-based ``.pyc`` files use (``importlib.util.source_hash``): it is built into the interpreter,
where sha256 would cost every warm import a module load. A digest stored next to its payload
guards against damage and edits, not against someone who rewrites the whole file (who could
recompute any digest stored there, sha256 included); what *is* trusted, the notebook, is verified
against the sha256 the registry published. Published content never changes, so nothing expires.

Writes are atomic (a temporary file renamed over the target) but not fsynced: after a crash a torn
entry fails its digest and is rebuilt, which is all a cache needs. A cache that cannot be written
(read-only home, full disk) makes imports slower, never failing.

This module is on the warm path of every import: only built-in or always-loaded modules here.
"""

import marshal
import os
from _imp import source_hash as _source_hash
from _thread import get_ident as _get_ident

try:
    # The import system itself, always loaded; importlib.util would cost a fresh process
    # importlib, warnings and contextlib.
    from _frozen_importlib_external import MAGIC_NUMBER
except ImportError:  # pragma: no cover - other implementations
    from importlib.util import MAGIC_NUMBER

from gilgamesh import files
from gilgamesh.loader import CacheIntegrityWarning, warn

__all__ = [
    "CODE_FORMAT", "MEMO_FORMAT", "CODE_TAG", "MEMO_TAG", "DIGEST_SIZE", "MAGIC_NUMBER", "ENTRY_FIELDS",
    "digest", "seal", "unseal", "pins_key", "is_key",
    "code_path", "notebook_path", "source_dir", "memo_dir", "lock_memo_path", "environment_memo_path",
    "read_code", "write_code", "read_memo", "read_memo_quietly", "write_memo",
    "read_notebook", "write_notebook", "write_sources", "atomic_write", "remove_tree", "unlink_quietly",
    "sha256_hex",
]

# Bump when what is stored changes: entries of another format are then simply not found (it is
# part of the file or directory name), never mistaken for altered ones.
CODE_FORMAT = 4  # 3: a dict payload, dependency imports pinned; 4: markdown docs only for the names it documents
MEMO_FORMAT = 2  # 2: dict entries with dependencies, environment and deprecation
CODE_TAG = b"GILGAMESH CODE %d " % CODE_FORMAT + MAGIC_NUMBER
MEMO_TAG = b"GILGAMESH INDEX %d " % MEMO_FORMAT
DIGEST_SIZE = 8
_DIGEST_KEY = int.from_bytes(b"gilgames", "little")  # any fixed 63-bit key

# The fields of a resolution memo (a spec resolved against one index): what the finder's
# ``Resolved`` carries. They are ``gilgamesh.registry.store.resolved.MEMO_FIELDS``, the memo of the
# one resolved-version record, written out here because the warm path imports nothing of the
# registry (tests/loader/test_loader_package.py holds the two equal).
ENTRY_FIELDS = ("version", "sha256", "yanked", "yank_reason", "warning", "dependencies", "environment",
                "deprecated")


def digest(data: bytes) -> bytes:
    """The 8-byte keyed SipHash of ``data`` (what seals the cache files)."""
    return _source_hash(_DIGEST_KEY, data)


def is_key(key) -> bool:
    """A memo directory name as :func:`digest` makes them (never a path of another shape)."""
    return isinstance(key, str) and len(key) == 2 * DIGEST_SIZE and all(c in "0123456789abcdef" for c in key)


def pins_key(dependencies: dict) -> str:
    """What names the dependency versions a version's code is pinned to ("" for none)."""
    if not dependencies:
        return ""
    return digest(repr(sorted(dependencies.items())).encode()).hex()


def _integrity_error(message: str):
    from gilgamesh.errors import IntegrityError

    return IntegrityError(message)


def seal(tag: bytes, payload: bytes) -> bytes:
    """``tag + digest(tag + payload) + payload``."""
    return tag + digest(tag + payload) + payload


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
def code_path(root: str, sha256: str, pins: str = "") -> str:
    stem = f"{sha256}-{pins}" if pins else sha256
    return os.path.join(root, "code", f"{stem}-{MAGIC_NUMBER.hex()}-{CODE_FORMAT}.code")


def notebook_path(root: str, sha256: str) -> str:
    return os.path.join(root, "notebooks", sha256 + ".ipynb")


def source_dir(root: str, sha256: str, pins: str = "") -> str:
    return os.path.join(root, "source", f"{sha256[:16]}-{pins[:8]}" if pins else sha256[:16])


def memo_dir(root: str, location: str, name: str) -> str:
    """Where the index memos of API ``name`` of the registry at ``location`` live."""
    return os.path.join(root, f"index-{MEMO_FORMAT}", digest(location.encode()).hex(), name)


def lock_memo_path(root: str, lock_bytes: bytes) -> str:
    """The parsed form of one session lock file (see :mod:`gilgamesh.lockfile`)."""
    return os.path.join(root, f"lock-{MEMO_FORMAT}", digest(lock_bytes).hex())


def environment_memo_path(root: str, environment_key: str, sha256: str) -> str:
    """The environment warning of version ``sha256`` in the environment ``environment_key``."""
    return os.path.join(root, f"environment-{MEMO_FORMAT}", environment_key, sha256)


# -- compiled code ----------------------------------------------------------------------------
def read_code(path: str, sha256: str) -> dict | None:
    """The compiled payload for the notebook ``sha256``, None if absent; IntegrityError if altered.

    The payload is a dict, see :mod:`gilgamesh.loader.compiler`.
    """
    data = _read(path)
    if data is None:
        return None
    try:
        payload = marshal.loads(unseal(CODE_TAG, data, path))
    except (ValueError, EOFError, TypeError):
        raise _integrity_error(f"integrity check failed for the cache file {path}: unreadable") from None
    if not isinstance(payload, dict) or payload.get("sha256") != sha256:
        raise _integrity_error(
            f"integrity check failed for the cache file {path}: it holds the code of another notebook"
        )
    return payload


def write_code(path: str, payload: dict) -> bool:
    return atomic_write(path, seal(CODE_TAG, marshal.dumps(payload)))


# -- memos ------------------------------------------------------------------------------------
def read_memo(path: str):
    """A sealed marshal value (a memo, see the module docstring), None if absent.

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
        warn(f"{e}; discarded (it is rebuilt from the registry)", CacheIntegrityWarning)
        unlink_quietly(path)
        return None


def write_memo(path: str, value) -> bool:
    return atomic_write(path, seal(MEMO_TAG, marshal.dumps(value)))


# -- notebooks and cell files -------------------------------------------------------------------
def sha256_hex(data: bytes) -> str:
    """The hex sha256 of ``data`` (the identity of a notebook)."""
    from hashlib import sha256

    return sha256(data).hexdigest()


def read_notebook(root: str, sha256: str) -> bytes | None:
    """Cached notebook bytes, None if absent; IntegrityError if they do not hash to ``sha256``."""
    path = notebook_path(root, sha256)
    data = _read(path)
    if data is None:
        return None
    if sha256_hex(data) != sha256:
        raise _integrity_error(
            f"integrity check failed for the cached notebook {path}: expected sha256 {sha256}, "
            f"got {sha256_hex(data)} (the file was altered or damaged)"
        )
    return data


def write_notebook(root: str, sha256: str, data: bytes) -> bool:
    path = notebook_path(root, sha256)
    return os.path.exists(path) or atomic_write(path, data)


def write_sources(directory: str, files: list) -> bool:
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


# -- writing ----------------------------------------------------------------------------------
def atomic_write(path: str, data: bytes, mode: int = 0o644) -> bool:
    """Write ``data`` to ``path`` (readers see the old file or the new one); False if impossible
    (caches are best effort, and need not reach the disk before the rename)."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        files.atomic_write(path, data, mode, durable=False)
        return True
    except OSError:
        return False


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

"""The loader's on-disk caches, keyed by content (sha256), verified on every read.

```
<cache_dir()>/
  notebooks/<sha256>.ipynb           notebook bytes; the name is the digest of the content
  code/<sha256>-<magic>-<format>.code  compiled cells and documentation data (sealed)
  source/<sha256[:16]>/<name>@<version> cell <n>.py
                                     the cell sources that tracebacks and debuggers show
  index-<format>/<registry key>/<name>/
                                     per API of one registry (sealed files; key: digest of the location)
      latest                         which index was seen last: (location, name, key, fetched_at)
      <key>/index                    a copy of that index: (location, name, fetched_at, bytes)
      <key>/<module part>            a spec resolved against it: (version, sha256, yanked, reason, warning)
      <key>/@unpinned                the same for an import without a spec
```

``<key>`` is the digest of the index bytes: a resolution is only ever reused against the very
index it was made from.

A *sealed* file is ``tag + digest(tag + payload) + payload``: the tag names the kind, the format
and (for code) the Python magic number, so a file written by another Python or another format is
refused, and a file altered after it was written fails its digest. The digest is the keyed
SipHash that hash-based ``.pyc`` files use (``importlib.util.source_hash``): it is built into the
interpreter, where sha256 would cost every warm import a module load. A digest stored next to
its payload guards against damage and edits, not against someone who rewrites the whole file
(who could recompute any digest stored there, sha256 included); what *is* trusted, the notebook,
is verified against the sha256 the registry published. Published content never changes, so
nothing here expires.

Writes are atomic (a temporary file renamed over the target) but not fsynced: after a crash a
torn entry fails its digest and is rebuilt, which is all a cache needs. A cache that cannot be
written (read-only home, full disk) makes imports slower, never failing.

This module is on the warm import path: ``os``, ``marshal``, ``_imp`` and ``_thread`` only (all
built in).
"""

import marshal
import os
from _imp import source_hash as _source_hash
from _thread import get_ident as _get_ident

try:
    from importlib._bootstrap_external import MAGIC_NUMBER  # loaded already: it is the import system
except ImportError:  # pragma: no cover - other implementations
    from importlib.util import MAGIC_NUMBER

__all__ = [
    "CODE_FORMAT",
    "CODE_TAG",
    "MEMO_TAG",
    "DIGEST_SIZE",
    "MAGIC_NUMBER",
    "digest",
    "sha256_hex",
    "seal",
    "unseal",
    "atomic_write",
    "code_path",
    "notebook_path",
    "source_dir",
    "memo_dir",
    "read_code",
    "write_code",
    "read_notebook",
    "write_notebook",
    "read_memo",
    "write_memo",
    "write_sources",
    "remove_tree",
]

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


def sha256_hex(data: bytes) -> str:
    """The hex sha256 of ``data`` (notebook identity; only the cold path needs it)."""
    try:
        from _sha256 import sha256  # CPython 3.11: hashlib would load OpenSSL (~2 ms)
    except ImportError:  # pragma: no cover - depends on the Python build
        from hashlib import sha256
    return sha256(data).hexdigest()


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


def atomic_write(path: str, data: bytes, mode: int = 0o644) -> bool:
    """Write ``data`` to ``path`` (readers see the old file or the new one); False if impossible."""
    tmp = f"{path}.{os.getpid()}-{_get_ident()}.tmp"  # unique per writer: process and thread
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False


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


def write_code(path: str, payload: tuple) -> bool:
    return atomic_write(path, seal(CODE_TAG, marshal.dumps(payload)))


# -- notebooks --------------------------------------------------------------------------------
def read_notebook(root: str, sha256: str) -> bytes | None:
    """Cached notebook bytes, None if absent; IntegrityError if they do not hash to ``sha256``."""
    path = notebook_path(root, sha256)
    data = _read(path)
    if data is not None and sha256_hex(data) != sha256:
        raise _integrity_error(
            f"integrity check failed for the cached notebook {path}: expected sha256 {sha256}, "
            f"got {sha256_hex(data)} (the file was altered or damaged)"
        )
    return data


def write_notebook(root: str, sha256: str, data: bytes) -> bool:
    path = notebook_path(root, sha256)
    if os.path.exists(path):
        return True
    return atomic_write(path, data)


# -- index memos ------------------------------------------------------------------------------
def read_memo(path: str):
    """A sealed marshal value (see :mod:`gilgamesh.loader.resolution`), None if absent.

    Raises :class:`IntegrityError` if the file was altered or is unreadable.
    """
    data = _read(path)
    if data is None:
        return None
    try:
        return marshal.loads(unseal(MEMO_TAG, data, path))
    except (ValueError, EOFError, TypeError):
        raise _integrity_error(f"integrity check failed for the cache file {path}: unreadable") from None


def write_memo(path: str, value) -> bool:
    return atomic_write(path, seal(MEMO_TAG, marshal.dumps(value)))


# -- cell sources -----------------------------------------------------------------------------
def write_sources(directory: str, files: list[tuple[str, str]]) -> bool:
    """Write ``(basename, text)`` files as one directory, all at once (read-only: display copies)."""
    if os.path.isdir(directory):
        return True
    parent = os.path.dirname(directory)
    tmp = os.path.join(parent, f".tmp-{os.path.basename(directory)}-{os.getpid()}-{_get_ident()}")
    try:
        os.makedirs(tmp, exist_ok=True)
        for basename, text in files:
            fd = os.open(os.path.join(tmp, basename), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o444)
            try:
                os.write(fd, text.encode("utf-8"))
            finally:
                os.close(fd)
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

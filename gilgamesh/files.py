"""Writing a file so that readers see the old one or the new one, never half of either.

The one atomic write of the product: registry data, index files and blobs, validation and
loader caches, lock files, saved notebooks and git hooks all go through :func:`atomic_write`.
It imports nothing heavy (no ``tempfile``): the loader's cache writes on the import path.
"""

from __future__ import annotations

import os
from _thread import get_ident

__all__ = ["atomic_write"]


def atomic_write(path: str, data: bytes, mode: int = 0o644, *, durable: bool = True) -> None:
    """Replace ``path`` by ``data`` atomically, with permission bits ``mode`` (whatever the umask:
    the sandboxed processes, another uid, read the published parts). ``durable``: flushed to disk
    before the rename, so that a crash leaves the old file or the new one (registry data); a cache
    may skip it. Raises :class:`OSError`; the temporary file never stays behind."""
    tmp = os.path.join(os.path.dirname(path), f".tmp-{os.path.basename(path)}.{os.getpid()}-{get_ident()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with open(fd, "wb") as f:
            os.fchmod(fd, mode)
            f.write(data)
            if durable:
                f.flush()
                os.fsync(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise

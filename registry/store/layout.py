"""The on-disk layout of a local registry directory, in one place.

```
<root>/
  store.git/           bare git repository: the source of truth (tags <name>/v<version>)
  index/<name>.json    derived listing of one API's versions (rebuildable from the git refs)
  blobs/<sha256>.ipynb the notebooks by content hash: the readers' fast path
  settings.json        per-registry settings (validation limits)
  tokens.json          hashed publish tokens (never in git)
  write.lock           serializes writers across processes
  journal.json         a write in progress; found after a crash, it is rolled forward or back
  validation-cache/    passed validations by notebook and dependency hashes (registry/validation/launch.py)
```
"""

from __future__ import annotations

import os

__all__ = ["Layout"]


class Layout:
    __slots__ = ("root",)

    def __init__(self, root: str):
        self.root = root

    @property
    def git_dir(self) -> str:
        return os.path.join(self.root, "store.git")

    @property
    def index_dir(self) -> str:
        return os.path.join(self.root, "index")

    def index_file(self, name: str) -> str:
        return os.path.join(self.root, "index", name + ".json")

    @property
    def blobs_dir(self) -> str:
        return os.path.join(self.root, "blobs")

    def blob_file(self, sha256: str) -> str:
        return os.path.join(self.root, "blobs", sha256 + ".ipynb")

    @property
    def settings_file(self) -> str:
        return os.path.join(self.root, "settings.json")

    @property
    def tokens_file(self) -> str:
        return os.path.join(self.root, "tokens.json")

    @property
    def lock_file(self) -> str:
        return os.path.join(self.root, "write.lock")

    @property
    def journal_file(self) -> str:
        return os.path.join(self.root, "journal.json")

    def exists(self) -> bool:
        return os.path.isdir(self.git_dir) and os.path.isdir(self.index_dir)

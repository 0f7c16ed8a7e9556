"""What a version's git tree holds, defined once.

Every published version is one commit whose tree holds exactly:

* ``notebook.ipynb``: the published bytes, whose sha256 ``gilgamesh.json`` records as ``sha256``;
* ``gilgamesh.json``: the derived metadata (name, version, sha256, dependencies, surface, ...);
* each file of :data:`HASHED_FILES` that the metadata declares, and no other: ``golden.json``
  (the golden calls, step 3b of publishing) when ``metadata["golden"]["sha256"]`` names it.

The store writes trees with :func:`tree_files`, the index and the blobs read them with
:func:`metadata_of` and :func:`notebook_of`, and sync and the store's ``pre-receive`` hook accept
a version made elsewhere only if :func:`check_tree` finds every file it should, each matching
the sha256 its metadata records. A later format that adds a file adds it to :data:`HASHED_FILES`.
"""

from __future__ import annotations

import hashlib
import json

__all__ = ["NOTEBOOK", "METADATA", "GOLDEN", "HASHED_FILES", "BadVersionTree", "tree_files", "read_tree", "check_tree",
           "metadata_of", "notebook_of"]

NOTEBOOK = "notebook.ipynb"
METADATA = "gilgamesh.json"
GOLDEN = "golden.json"
# More files a version may hold: file name -> the metadata field that declares it with its sha256.
HASHED_FILES = {GOLDEN: "golden"}


class BadVersionTree(ValueError):
    """A commit that is not a well-formed version: its message says what is wrong."""


def tree_files(notebook: bytes, metadata: bytes, more: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """The files of a new version's tree; ``more`` may hold only files of :data:`HASHED_FILES`."""
    unknown = sorted(set(more or {}) - set(HASHED_FILES))
    if unknown:
        raise ValueError(f"a version's tree holds no {', '.join(unknown)}")
    return {**(more or {}), NOTEBOOK: notebook, METADATA: metadata}


def read_tree(commit) -> dict[str, bytes]:
    """``{path: bytes}`` of a version commit's tree (a GitPython commit); sub-trees count as files
    so that :func:`check_tree` names them."""
    return {entry.path: (entry.data_stream.read() if entry.type == "blob" else b"") for entry in commit.tree}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_tree(files: dict[str, bytes], name: str, version: str) -> dict:
    """The metadata of the version ``name@version`` whose tree holds ``files``, after checking that
    it holds what a version holds, each file matching its recorded sha256; raise :class:`BadVersionTree`."""
    missing = [f for f in (NOTEBOOK, METADATA) if f not in files]
    if missing:
        raise BadVersionTree(f"its tree lacks {' and '.join(missing)} (it holds {', '.join(sorted(files)) or 'nothing'})")
    try:
        meta = json.loads(files[METADATA])
    except ValueError as e:
        raise BadVersionTree(f"its {METADATA} is not JSON ({e})") from None
    if not isinstance(meta, dict):
        raise BadVersionTree(f"its {METADATA} is not an object")
    if (meta.get("name"), meta.get("version")) != (name, version):
        raise BadVersionTree(f"its metadata names {meta.get('name')}@{meta.get('version')}")
    if meta.get("sha256") != _sha256(files[NOTEBOOK]):
        raise BadVersionTree(f"its {NOTEBOOK} does not match the sha256 {meta.get('sha256')} its metadata records")
    unknown = sorted(set(files) - {NOTEBOOK, METADATA} - set(HASHED_FILES))
    if unknown:
        raise BadVersionTree(f"its tree holds {', '.join(unknown)}, which a version's tree does not")
    for path, field in HASHED_FILES.items():
        declared = meta.get(field)
        sha = declared.get("sha256") if isinstance(declared, dict) else None
        if sha is None:
            if path in files:
                raise BadVersionTree(f"its tree holds {path}, which its metadata does not declare ({field})")
            continue
        if path not in files:
            raise BadVersionTree(f"its tree lacks {path}, which its metadata declares ({field}.sha256 {sha})")
        if _sha256(files[path]) != sha:
            raise BadVersionTree(f"its {path} does not match the sha256 {sha} its metadata records ({field})")
    return meta


def metadata_of(commit) -> dict:
    """The derived metadata of a version commit (a GitPython commit), as stored."""
    return json.loads(commit.tree[METADATA].data_stream.read())


def notebook_of(commit) -> bytes:
    """The notebook bytes of a version commit (a GitPython commit)."""
    return commit.tree[NOTEBOOK].data_stream.read()

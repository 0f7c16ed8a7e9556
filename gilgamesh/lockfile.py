"""Session locks: ``gilgamesh.lock``, the exact versions an analysis was run with (README, Reproducible sessions).

``gilgamesh lock PATH...`` reads the API imports of notebooks and scripts, resolves each against
the registry and writes, beside them, a JSON file people can read::

    {
      "gilgamesh_lock": 1,
      "registry": "/home/ana/.gilgamesh/registry",
      "sources": ["analysis.ipynb"],
      "requested": {"langmuir@1.2": "1.2.0", "plasma@1": "1.1.0"},
      "packages": [
        {"name": "langmuir", "version": "1.2.0", "sha256": "...", "dependencies": {"plasma": "1.0.0"}},
        {"name": "plasma", "version": "1.0.0", "sha256": "...", "dependencies": {}},
        {"name": "plasma", "version": "1.1.0", "sha256": "...", "dependencies": {}}
      ]
    }

``packages`` holds every version the imports reach, dependencies included (a diamond locks both
versions of the shared API). A lock that exists is kept where it still holds: a spec locked before
keeps its version; ``--upgrade`` re-resolves everything. The loader turns a lock into *spelling
pins* (:func:`spelling_pins`): each module spelling a locked version satisfies (``v1``, ``v1_2``,
``v1_2_0``, and the unpinned handle) maps to the exact version, the one requested first, else
the highest locked one.
"""

from __future__ import annotations

import json
import os

from gilgamesh.config import LOCK_FILENAME
from gilgamesh.errors import GilgameshError, LockError, UsageError

__all__ = ["LOCK_FORMAT", "parse_lock", "spelling_pins", "api_imports", "build_lock", "lock_bytes", "write_lock",
           "LOCK_FILENAME"]

LOCK_FORMAT = 1


def parse_lock(data: bytes, path: str) -> dict:
    """The lock document in ``data``; :class:`LockError` naming ``path`` and the problem."""
    from gilgamesh.versions import Version, check_name

    try:
        doc = json.loads(data)
    except ValueError as e:
        raise LockError(f"the session lock {path} is not valid JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("gilgamesh_lock") != LOCK_FORMAT:
        raise LockError(f"the session lock {path} is not a gilgamesh.lock of format {LOCK_FORMAT} "
                        "(re-create it with 'gilgamesh lock --upgrade')")
    packages = doc.get("packages")
    if not isinstance(packages, list):
        raise LockError(f"the session lock {path} has no 'packages' list")
    for i, p in enumerate(packages):
        try:
            ok = isinstance(p, dict) and check_name(p.get("name")) and Version(p.get("version")) \
                and isinstance(p.get("sha256"), str) and len(p["sha256"]) == 64
        except GilgameshError:
            ok = False
        if not ok:
            raise LockError(f"the session lock {path}: package {i + 1} needs a valid name, version and sha256")
    requested = doc.get("requested", {})
    if not isinstance(requested, dict):
        raise LockError(f"the session lock {path}: 'requested' must map specs to versions")
    return doc


def _parts(version) -> list[str]:
    """The module spellings that choose ``version`` (a range never chooses a pre-release)."""
    exact = "v" + version.text.replace(".", "_")
    if version.is_prerelease:
        return [exact]
    return ["", f"v{version.major}", f"v{version.major}_{version.minor}", exact]


def spelling_pins(doc: dict) -> dict:
    """``{"name.part": (exact part, sha256)}`` for every spelling a locked version satisfies."""
    from gilgamesh.versions import Version, parse_name_spec

    sha = {(p["name"], p["version"]): p["sha256"] for p in doc["packages"]}
    pins: dict = {}
    for label, version in doc.get("requested", {}).items():  # what was asked for wins
        try:
            name, spec = parse_name_spec(label)
        except GilgameshError:
            continue
        if (name, version) in sha:
            part = "v" + spec.text.replace(".", "_") if spec.text else ""
            pins[f"{name}.{part}"] = ("v" + version.replace(".", "_"), sha[(name, version)])
    ranked = sorted(doc["packages"], key=lambda p: Version(p["version"]).key, reverse=True)
    for p in ranked:  # then the highest locked version
        for part in _parts(Version(p["version"])):
            pins.setdefault(f"{p['name']}.{part}", ("v" + p["version"].replace(".", "_"), p["sha256"]))
    return pins


# -- making a lock ------------------------------------------------------------------------------
def _sources_of(path: str) -> str:
    """The code of a notebook (its code cells) or a script."""
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".ipynb"):
        try:
            nb = json.loads(data)
            cells = nb["cells"]
        except (ValueError, KeyError, TypeError):
            raise UsageError(f"{path} is not a notebook (expected nbformat 4 JSON)") from None
        chunks = []
        for cell in cells:
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                source = cell.get("source", "")
                chunks.append("".join(source) if isinstance(source, list) else str(source))
        return "\n".join(chunks)
    return data.decode("utf-8", errors="replace")


def api_imports(path: str) -> list[str]:
    """The specs (``"langmuir@1.2"``, ``"plasma"`` when unpinned) that a file's code imports."""
    from gilgamesh.spelling import find_api_references, rewrite_at_spelling

    specs = []
    source = _sources_of(path)
    for ref in find_api_references(rewrite_at_spelling(source)):
        label = ref.name if ref.part is None else f"{ref.name}@{ref.part[1:].replace('_', '.')}"
        if label not in specs:
            specs.append(label)
    return specs


def build_lock(paths: list[str], reader, previous: dict | None = None) -> dict:
    """The lock of ``paths`` against ``reader``; specs ``previous`` locked keep their versions."""
    from gilgamesh.versions import parse_name_spec

    requested: dict = {}
    kept = (previous or {}).get("requested", {})
    old_sha = {(p["name"], p["version"]): p["sha256"] for p in (previous or {}).get("packages", [])}
    for path in paths:
        for label in api_imports(path):
            if label in requested:
                continue
            try:
                name, spec = parse_name_spec(label)
                version = kept.get(label)
                if not (version and _still_published(reader, name, version, old_sha.get((name, version)))):
                    version = reader.resolve(name, spec).version
            except GilgameshError as e:
                raise type(e)(f"{path}: the import of {label} does not resolve: {e.message}") from None
            requested[label] = version
    packages: dict = {}
    todo = [(label.partition("@")[0], version) for label, version in requested.items()]
    while todo:
        name, version = todo.pop()
        if (name, version) in packages:
            continue
        entry = reader.entry(name, version)
        dependencies = dict(entry.get("dependencies") or {})
        packages[(name, version)] = {"name": name, "version": version, "sha256": entry["sha256"],
                                     "dependencies": dependencies}
        todo.extend(dependencies.items())
    from gilgamesh.versions import Version

    return {
        "gilgamesh_lock": LOCK_FORMAT,
        "registry": getattr(reader, "location", None),
        "sources": sorted(os.path.basename(p) for p in paths),
        "requested": dict(sorted(requested.items())),
        "packages": [packages[k] for k in sorted(packages, key=lambda k: (k[0], Version(k[1]).key))],
    }


def _still_published(reader, name: str, version: str, sha256: str | None) -> bool:
    try:
        return reader.entry(name, version)["sha256"] == sha256
    except GilgameshError:
        return False


def lock_bytes(doc: dict) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def write_lock(path: str, doc: dict) -> None:
    """Replace ``path`` with the lock ``doc`` atomically (readers see the old lock or the new)."""
    from gilgamesh.files import atomic_write

    atomic_write(path, lock_bytes(doc))

"""Behaviour replay, at publish: which golden calls a successor replays, and what a version stores
of its own (``golden.json`` in its tree, its sha256 in ``gilgamesh.json`` under ``golden``).

A MINOR or PATCH successor replays its predecessor's golden calls (a MAJOR bump promises nothing);
versions published before golden calls existed have none, and their successors replay nothing.
The kernel side is :mod:`gilgamesh.registry.compat.record`, the verdict
:mod:`gilgamesh.registry.compat.verdict`.
"""

from __future__ import annotations

import hashlib
import json

from gilgamesh.registry.store.version_tree import GOLDEN

__all__ = ["GOLDEN_FILE", "GOLDEN_FORMAT", "replay_source", "behaviour_job", "golden_file", "golden_metadata"]

GOLDEN_FILE = GOLDEN
GOLDEN_FORMAT = 1


def _compatible_line(old: str, new: str) -> bool:
    """Whether ``new`` promises ``old``'s behaviour: a MINOR or PATCH successor (PATCH on 0.x)."""
    from gilgamesh.registry.compat.semver import BUMPS, bump_of, effective_bump

    made = bump_of(old, new)
    return BUMPS.index(made) < BUMPS.index(effective_bump("major", old))


def replay_source(store, name: str, version: str) -> dict | None:
    """The predecessor's golden calls a successor replays: ``{"version", "sha256", "calls"}``, or None.

    None when there is no predecessor in the same line (a MAJOR bump promises nothing), or when it
    was published without golden calls (before they existed, or none could be recorded).
    """
    from gilgamesh.errors import GilgameshError, IntegrityError

    try:
        predecessor = store.version_set(name).predecessor(version)
    except GilgameshError:
        return None
    if predecessor is None or not _compatible_line(predecessor, version):
        return None
    golden = store.read_metadata(name, predecessor).get("golden") or {}
    if not golden.get("sha256"):
        return None
    data = store.read_version_file(name, predecessor, GOLDEN_FILE)
    if hashlib.sha256(data).hexdigest() != golden["sha256"]:
        raise IntegrityError(f"integrity check failed for the golden calls of {name}@{predecessor}: "
                             "the stored copy was altered or damaged")
    return {"version": predecessor, "sha256": golden["sha256"], "calls": json.loads(data)["calls"]}


def behaviour_job(nb, facts: dict, source: dict | None) -> dict:
    """What the validation kernel needs: the example cells, the static facts, the calls to replay."""
    examples = [[c.number, c.source] for c in nb.cells if c.kind == "code" and not c.runs_on_import and c.source.strip()]
    job: dict = {"examples": examples, "facts": facts}
    if source is not None:
        job["replay"] = source
    return job


def golden_file(golden: dict | None) -> bytes | None:
    """The bytes of ``golden.json`` (None when nothing was recorded)."""
    if not golden or not golden.get("calls"):
        return None
    return (json.dumps(golden, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def golden_metadata(data: bytes, golden: dict) -> dict:
    """What ``gilgamesh.json`` says about the golden calls: the file's sha256 and what it holds."""
    recorded: dict[str, int] = {}
    for call in golden["calls"]:
        recorded[call["function"]] = recorded.get(call["function"], 0) + 1
    return {"file": GOLDEN_FILE, "sha256": hashlib.sha256(data).hexdigest(), "calls": len(golden["calls"]),
            "functions": recorded}

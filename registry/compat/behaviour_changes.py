"""Behaviour changes as the commands show them: ``diff``, ``resolve``, ``validate`` and ``publish``.

A version's accepted behaviour changes (``changed`` in its metadata and index entry, see
:mod:`gilgamesh.registry.compat.verdict`) are ``{function: {"reason", "differences", "replayed",
"example"}}``. ``diff NAME@A NAME@B`` lists those of every version after A up to B; a working
copy contributes what its ``metadata.gilgamesh.changed`` declares (its calls are replayed when it
is validated or published, not by ``diff``). An accepted change needs no bump beyond the one made:
its row's bump is ``patch``.

Changes of the HTTP surface (rows with ``"surface": "http"`` and their ``"route"``, see
:func:`gilgamesh.registry.compat.semver.diff_http_surface`) are shown after the others, under
their own heading (:func:`change_lines`).
"""

from __future__ import annotations

from gilgamesh.versions import Version

__all__ = ["diff_rows", "changed_lines", "publish_lines", "change_lines"]


def _row(function: str, change: dict, version: str, declared: bool = False) -> dict:
    if declared:
        detail = "declared in metadata.gilgamesh.changed; its golden calls are replayed at publish"
    elif change.get("differences"):
        detail = f"{change['differences']} of {change.get('replayed', 0)} golden calls differ, e.g. {change['example']}"
    else:
        detail = "declared; no golden call differed"
    return {"kind": "behaviour-changed", "name": function, "bump": "patch", "version": version,
            "reason": change.get("reason"), "differences": change.get("differences"),
            "message": f"{function}: behaviour changed in {version}: {change.get('reason')} ({detail})"}


def diff_rows(reader, name: str, old: str, new: str, working: dict | None = None) -> list[dict]:
    """The behaviour changes between two versions of ``name``; ``working``: the newer side is a
    working copy with this ``metadata.gilgamesh``."""
    low, high = sorted((Version(old), Version(new)))
    rows = []
    try:
        index = reader.api_index(name)["versions"]
    except Exception:  # noqa: BLE001 - a working copy of an API not published yet
        index = {}
    for version in sorted(index, key=Version):
        if low < Version(version) <= high and not (working is not None and version == new):
            for function, change in sorted((index[version].get("changed") or {}).items()):
                rows.append(_row(function, change, version))
    declared = (working or {}).get("changed")
    if isinstance(declared, dict):
        for function, reason in sorted(declared.items()):
            rows.append(_row(function, {"reason": reason}, new, declared=True))
    return rows


def change_lines(rows: list[dict], indent: str = "  ") -> list[str]:
    """One line per change with the bump it needs: the Python API's and behaviour's first, then
    those of the HTTP surface under an ``HTTP surface:`` heading (each names its route)."""
    http = [r for r in rows if r.get("surface") == "http"]
    lines = [f"{indent}{r['bump'].upper():<5} {r['message']}" for r in rows if r.get("surface") != "http"]
    if http:
        lines.append(f"{indent}HTTP surface:")
        lines += [f"{indent}  {r['bump'].upper():<5} {r['message']}" for r in http]
    return lines


def changed_lines(changed: dict) -> list[str]:
    """``resolve``'s lines for a version's accepted behaviour changes."""
    return [f"changed:      {function}: {change.get('reason')}" for function, change in sorted((changed or {}).items())]


def publish_lines(result: dict) -> list[str]:
    """What ``validate`` and ``publish`` add under their verdict: API and behaviour changes found."""
    lines = []
    predecessor = result.get("predecessor")
    if predecessor:
        changes = result.get("changes") or []
        lines.append(f"  API changes over {predecessor}:" + (" none" if not changes else ""))
        lines += change_lines(changes, "    ")
    behaviour = result.get("behaviour") or {}
    recorded = behaviour.get("recorded")
    if recorded is not None:
        n = sum(recorded.values())
        what = ", ".join(f"{f} {k}" for f, k in sorted(recorded.items()))
        lines.append(f"  golden calls recorded: {n}" + (f" ({what})" if what else ""))
    inherited = behaviour.get("inherited") or {}
    if inherited:
        what = ", ".join(f"{f} {k}" for f, k in sorted(inherited.items()))
        lines.append(f"  golden calls kept from {behaviour['replayed']['version']}: {sum(inherited.values())} ({what})")
    skipped = behaviour.get("skipped") or {}
    if skipped:
        reasons = behaviour.get("skipped_reasons") or {}
        parts = [f"{f} {k} ({'; '.join(reasons.get(f, []))})" for f, k in sorted(skipped.items())]
        lines.append(f"  calls not recorded: {sum(skipped.values())}: " + ", ".join(parts))
    replayed = behaviour.get("replayed")
    if replayed:
        differing = len(behaviour.get("differences") or [])
        lines.append(f"  golden calls of {replayed['version']} replayed: {replayed['calls']}, "
                     f"{differing} differ" + (" (accepted below)" if differing else ""))
    for function, change in sorted((result.get("changed") or {}).items()):
        example = f"; e.g. {change['example']}" if change.get("example") else ""
        lines.append(f"  behaviour changed: {function}: {change['reason']} "
                     f"({change.get('differences', 0)} of {change.get('replayed', 0)} calls differ{example})")
    return lines

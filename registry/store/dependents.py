"""Who depends on a version: every published version whose recorded dependencies it is in.

Read from the index (each version's ``dependencies`` are the exact versions its imports resolved to
at its publish), so it answers for any reader, local or HTTP, without opening a notebook.
"""

from __future__ import annotations

from gilgamesh.errors import ApiNotFound
from gilgamesh.versions import Spec, Version, VersionSet

__all__ = ["chosen_versions", "find_dependents"]


def chosen_versions(versions: VersionSet | list, spec: Spec) -> list[str]:
    """Every version a spec chooses, as a set: the exact one, or each release of the range.

    Yanked releases count (they may still be depended upon); pre-releases only for an exact spec.
    """
    if spec.exact is not None:
        return [v.text for v in versions if v == spec.exact]
    n = len(spec.parts)
    return [v.text for v in versions if not v.is_prerelease and v.release[:n] == spec.parts]


def find_dependents(reader, name: str, spec: Spec | str) -> dict:
    """``{"name", "spec", "versions": [chosen], "dependents": [{"name", "version", "depends_on",
    "yanked", "deprecated"}]}``; :class:`ApiNotFound` if ``name`` does not exist."""
    if not isinstance(spec, Spec):
        spec = Spec(spec)
    targets = set(chosen_versions(reader.version_set(name), spec))
    found = []
    for other in reader.names():
        if other == name:
            continue
        try:
            versions = reader.api_index(other)["versions"]
        except ApiNotFound:  # removed meanwhile
            continue
        for version, entry in versions.items():
            pinned = (entry.get("dependencies") or {}).get(name)
            if pinned in targets:
                found.append({
                    "name": other, "version": version, "depends_on": f"{name}@{pinned}",
                    "yanked": bool(entry.get("yanked")), "deprecated": bool(entry.get("deprecated")),
                })
    found.sort(key=lambda d: (d["name"], Version(d["version"]).key))
    return {"name": name, "spec": spec.text, "versions": sorted(targets, key=lambda v: Version(v).key),
            "dependents": found}

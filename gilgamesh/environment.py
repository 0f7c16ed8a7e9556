"""The environment a version was validated in: captured by validation, compared on import.

Validation records ``{"python": "3.11.2", "packages": {distribution: version}}``: the Python and
every distribution whose modules the notebook imported (the kernel's own machinery, imported
before the first cell, and Gilgamesh itself are left out). An import compares it with the
importing environment and warns when a major or minor version differs ("it ran last year but not
now" becomes diagnosable); patch releases are taken as compatible.
"""

from __future__ import annotations

import re
import sys

__all__ = ["capture_environment", "compare_environment", "describe_environment", "distributions_providing",
           "OWN_DISTRIBUTION"]

OWN_DISTRIBUTION = "gilgamesh"
_LEADING = re.compile(r"(\d+)(?:\.(\d+))?")


def capture_environment(before: set | frozenset = frozenset()) -> dict:
    """This process's Python and the distributions of the modules imported since ``before``."""
    import platform
    from importlib import metadata

    tops = {name.partition(".")[0] for name in list(sys.modules) if name not in before}
    tops -= {name.partition(".")[0] for name in before}
    owners = distributions_providing(tops)
    packages = {}
    for top in sorted(tops):
        for dist in owners.get(top, ()):
            if dist.lower() == OWN_DISTRIBUTION or dist in packages:
                continue
            try:
                packages[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:  # pragma: no cover - a broken installation
                continue
    return {"python": platform.python_version(), "packages": dict(sorted(packages.items()))}


def distributions_providing(tops: set[str]) -> dict[str, list[str]]:
    """``importlib.metadata.packages_distributions()`` restricted to the top-level names ``tops``.

    The same answer, from the same functions, but the names and file lists of the installed
    distributions are only parsed for those that may provide one of ``tops`` (a full scan parses
    every ``METADATA`` and ``RECORD``: 0.1-0.2 s in a kernel, after the notebook's last cell).
    """
    from importlib import metadata

    declared = getattr(metadata, "_top_level_declared", None)
    inferred = getattr(metadata, "_top_level_inferred", None)
    if declared is None or inferred is None:  # another Python's importlib: the full scan
        everything = metadata.packages_distributions()
        return {top: everything[top] for top in tops if top in everything}
    owners: dict[str, list[str]] = {}
    for dist in metadata.distributions():
        names = declared(dist)
        if not names:
            if not _may_provide(dist.read_text("RECORD"), tops):
                continue
            names = inferred(dist)
        for top in names:
            if top in tops:
                owners.setdefault(top, []).append(dist.metadata["Name"])
    return owners


def _may_provide(record: str | None, tops: set[str]) -> bool:
    """False only if no file listed in ``record`` (a ``RECORD``) can be a module under ``tops``.

    Cheap string work: a file's top-level name is its first path component, or the file name
    without its suffixes; an unusual listing (quoted by csv, absolute, ``./``) counts as maybe.
    """
    if not record or '"' in record:
        return True  # no RECORD (an egg-info's lists), or quoted paths: let importlib decide
    for line in record.splitlines():
        path = line.rsplit(",", 2)[0]
        if path.startswith(("/", "./")):
            return True
        first = path.split("/", 1)[0]
        if first in tops or first.split(".", 1)[0] in tops or first.rpartition(".")[0] in tops:
            return True
    return False


def _major_minor(version: str | None):
    m = _LEADING.match(version or "")
    return (int(m.group(1)), int(m.group(2) or 0)) if m else None


def _installed(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def compare_environment(name: str, version: str, environment: dict) -> str:
    """The warning for this environment against ``environment`` ("" when major and minor agree)."""
    if not isinstance(environment, dict):
        return ""
    import platform

    differences = []
    recorded_python = environment.get("python")
    if isinstance(recorded_python, str) and _major_minor(recorded_python) != sys.version_info[:2]:
        differences.append(f"Python {recorded_python} (here {platform.python_version()})")
    packages = environment.get("packages")
    for dist, recorded in sorted((packages if isinstance(packages, dict) else {}).items()):
        here = _installed(dist)
        if here is None:
            differences.append(f"{dist} {recorded} (not installed here)")
        elif _major_minor(here) != _major_minor(recorded):
            differences.append(f"{dist} {recorded} (here {here})")
    if not differences:
        return ""
    return (f"{name}@{version} was validated with " + ", ".join(differences)
            + "; its results may differ here (GILGAMESH_ENVIRONMENT_WARNINGS=0 silences this warning)")


def describe_environment(environment) -> str:
    """``Python 3.11.2; numpy 1.26.4, scipy 1.11.4`` (terminal and pages)."""
    if not isinstance(environment, dict) or not environment:
        return "not recorded"
    packages = environment.get("packages") or {}
    text = f"Python {environment.get('python', '?')}"
    if packages:
        text += "; " + ", ".join(f"{d} {v}" for d, v in sorted(packages.items()))
    return text

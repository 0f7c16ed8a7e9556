"""Semantic versioning of API snapshots: what changed, and the bump each change needs.

A rule table in the spirit of cargo-semver-checks. Snapshots are the JSON of
:mod:`gilgamesh.registry.surface`. While the major version is 0, what would need a MAJOR bump
needs a MINOR one (and a MINOR one a PATCH), as Cargo does.
"""

from __future__ import annotations

from typing import NamedTuple

from gilgamesh.errors import Problem
from gilgamesh.versions import Version

__all__ = ["Change", "diff_snapshots", "required_bump", "bump_of", "bump_problems", "BUMPS"]

BUMPS = ("patch", "minor", "major")
_RANK = {b: i for i, b in enumerate(BUMPS)}


class Change(NamedTuple):
    kind: str  # the rule that fired, e.g. "parameter-removed"
    name: str  # the public name concerned (``Class.method`` for methods)
    bump: str  # "major", "minor" or "patch"
    message: str

    def to_dict(self) -> dict:
        return self._asdict()


def _positional(params: list[dict]) -> list[dict]:
    return [p for p in params if p["kind"] in ("positional_only", "positional_or_keyword")]


def _diff_signature(name: str, old: dict, new: dict) -> list[Change]:
    changes = []
    old_params = {p["name"]: p for p in old["params"]}
    new_params = {p["name"]: p for p in new["params"]}
    old_pos = [p["name"] for p in _positional(old["params"])]
    new_pos = [p["name"] for p in _positional(new["params"])]
    new_has_varkw = any(p["kind"] == "var_keyword" for p in new["params"])
    new_has_varargs = any(p["kind"] == "var_positional" for p in new["params"])
    for pname, p in old_params.items():
        if pname not in new_params:
            if (p["kind"] == "var_keyword" and new_has_varkw) or (p["kind"] == "var_positional" and new_has_varargs):
                continue
            renamed = ""
            if p["kind"] in ("positional_only", "positional_or_keyword") and pname in old_pos:
                i = old_pos.index(pname)
                if i < len(new_pos) and new_pos[i] not in old_params:
                    renamed = f" (renamed to {new_pos[i]!r}?)"
            changes.append(Change("parameter-removed", name, "major", f"{name}: parameter {pname!r} was removed{renamed}"))
            continue
        q = new_params[pname]
        if p["kind"] != q["kind"]:
            changes.append(Change("parameter-kind-changed", name, "major",
                                  f"{name}: parameter {pname!r} changed from {p['kind']} to {q['kind']}"))
        if p["default"] is not None and q["default"] is None and q["kind"] not in ("var_positional", "var_keyword"):
            changes.append(Change("parameter-now-required", name, "major", f"{name}: parameter {pname!r} lost its default"))
        elif p["default"] is not None and q["default"] is not None and p["default"] != q["default"]:
            changes.append(Change("default-changed", name, "major",
                                  f"{name}: the default of {pname!r} changed from {p['default']} to {q['default']}"))
    common_old = [n for n in old_pos if n in new_pos]
    common_new = [n for n in new_pos if n in old_pos]
    if common_old != common_new:
        changes.append(Change("parameters-reordered", name, "major",
                              f"{name}: positional parameters reordered from ({', '.join(common_old)}) to ({', '.join(common_new)})"))
    for pname, q in new_params.items():
        if pname in old_params or q["kind"] in ("var_positional", "var_keyword"):
            continue
        if q["default"] is None:
            changes.append(Change("required-parameter-added", name, "major", f"{name}: new required parameter {pname!r}"))
        else:
            changes.append(Change("optional-parameter-added", name, "minor", f"{name}: new optional parameter {pname!r}"))
    if (old.get("returns") or None) != (new.get("returns") or None):
        changes.append(Change("return-annotation-changed", name, "patch",
                              f"{name}: the return annotation changed from {old.get('returns')} to {new.get('returns')}"))
    for pname, p in old_params.items():
        q = new_params.get(pname)
        if q is not None and p.get("annotation") != q.get("annotation"):
            changes.append(Change("annotation-changed", name, "patch",
                                  f"{name}: the annotation of {pname!r} changed from {p.get('annotation')} to {q.get('annotation')}"))
    return changes


def diff_snapshots(old: dict, new: dict) -> list[Change]:
    """Every change from ``old`` to ``new`` with the bump it needs (for a 1.x or later line)."""
    changes = []
    for name, o in old.items():
        n = new.get(name)
        if n is None:
            changes.append(Change("name-removed", name, "major", f"public {o['kind']} {name!r} was removed"))
            continue
        if o["kind"] != n["kind"]:
            changes.append(Change("kind-changed", name, "major", f"{name!r} changed from a {o['kind']} to a {n['kind']}"))
            continue
        if o["kind"] == "function":
            changes += _diff_signature(name, o, n)
        elif o["kind"] == "class":
            for method, sig in o.get("methods", {}).items():
                label = f"{name}.{method}" if method != "__init__" else name
                if method not in n.get("methods", {}):
                    changes.append(Change("name-removed", label, "major", f"method {name}.{method} was removed"))
                else:
                    changes += _diff_signature(label, sig, n["methods"][method])
            for method in n.get("methods", {}):
                if method not in o.get("methods", {}):
                    changes.append(Change("name-added", f"{name}.{method}", "minor", f"new method {name}.{method}"))
        elif o["kind"] == "constant" and o.get("value") != n.get("value"):
            changes.append(Change("constant-changed", name, "patch", f"constant {name!r} changed from {o.get('value')} to {n.get('value')}"))
    for name, n in new.items():
        if name not in old:
            changes.append(Change("name-added", name, "minor", f"new public {n['kind']} {name!r}"))
    return changes


def bump_of(old_version: str, new_version: str) -> str:
    """The bump ``new`` makes over ``old``: the highest release component that grew."""
    o, n = Version(old_version), Version(new_version)
    if n.major != o.major:
        return "major"
    if n.minor != o.minor:
        return "minor"
    return "patch"


def required_bump(changes: list[Change], old_version: str | None = None) -> str:
    """The bump the changes need; shifted down one level for a 0.x predecessor."""
    need = max((_RANK[c.bump] for c in changes), default=0)
    if old_version is not None and Version(old_version).major == 0:
        need = max(need - 1, 0)
    return BUMPS[need]


def _effective(change_bump: str, old_version: str) -> str:
    rank = _RANK[change_bump]
    if Version(old_version).major == 0:
        rank = max(rank - 1, 0)
    return BUMPS[rank]


def bump_problems(name: str, old_version: str, old: dict, new_version: str, new: dict) -> list[Problem]:
    """The publish report's step 3: one problem per change that the new version under-bumps."""
    changes = diff_snapshots(old, new)
    made = _RANK[bump_of(old_version, new_version)]
    problems = []
    for c in changes:
        need = _effective(c.bump, old_version)
        if _RANK[need] > made:
            problems.append(Problem(
                "semver",
                f"{c.message}: needs a {need.upper()} bump over {name}@{old_version}, "
                f"but {new_version} is a {bump_of(old_version, new_version).upper()} bump",
            ))
    return problems

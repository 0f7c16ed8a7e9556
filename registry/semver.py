"""Semantic versioning of API snapshots: what changed, and the bump each change needs.

A rule table in the spirit of cargo-semver-checks, over the snapshots of
:mod:`gilgamesh.registry.surface`. Each rule has a ``kind`` (stable: the CLI's ``--json`` and
tests use it) and the bump it needs on a 1.x (or later) line:

============================  =====  ==========================================================
kind                          bump   when
============================  =====  ==========================================================
name-removed                  major  a public function, class, constant or method is gone
kind-changed                  major  a name changed kind (function, class, constant; method,
                                     staticmethod, classmethod, property; sync and async)
parameter-removed             major  a parameter is gone (``*args``/``**kwargs`` included)
parameter-renamed             major  a parameter callers can name has a new name in its place
parameters-reordered          major  positional parameters changed their relative order
parameter-moved               major  a positional parameter moved right (one was inserted before)
parameter-kind-changed        major  a parameter can no longer be passed as before
                                     (e.g. positional-or-keyword to keyword-only)
required-parameter-added      major  a new parameter without a default
parameter-now-required        major  a parameter lost its default
default-changed               major  a default value changed
attribute-removed             major  a public class attribute is gone
name-added                    minor  a new public name or method
optional-parameter-added      minor  a new parameter with a default, or a new ``*args``/``**kwargs``
parameter-now-optional        minor  a parameter gained a default
parameter-kind-widened        minor  a parameter can be passed in more ways than before
attribute-added               minor  a new public class attribute
positional-only-renamed       patch  a positional-only parameter was renamed (no caller can tell)
annotation-changed            patch  a parameter annotation changed
return-annotation-changed     patch  the return annotation changed
constant-changed              patch  a constant's (or class attribute's) value changed
============================  =====  ==========================================================

While the predecessor's major version is 0, what needs MAJOR needs MINOR (DESIGN.md 5: "MAJOR
bump (MINOR for 0.x)"); additions still need MINOR. Pre-releases promise nothing: from a
pre-release to a version of the same release (``2.0.0rc1`` to ``2.0.0``), the bump made is the
level of that release (``2.0.0`` is a major release, ``1.3.0`` a minor one, ``1.2.1`` a patch).
"""

from __future__ import annotations

from typing import NamedTuple

from gilgamesh.errors import Problem
from gilgamesh.versions import Version

__all__ = ["Change", "diff_snapshots", "required_bump", "bump_of", "bump_problems", "effective_bump", "BUMPS"]

BUMPS = ("patch", "minor", "major")
_RANK = {b: i for i, b in enumerate(BUMPS)}
_POSITIONAL = ("positional_only", "positional_or_keyword")
_VARIADIC = ("var_positional", "var_keyword")


class Change(NamedTuple):
    kind: str  # the rule that fired, e.g. "parameter-removed"
    name: str  # the public name concerned (``Class.method`` for methods)
    bump: str  # "major", "minor" or "patch" (for a 1.x or later line)
    message: str

    def to_dict(self) -> dict:
        return self._asdict()


# -- parameters ----------------------------------------------------------------------------------

def _call_styles(kind: str) -> set[str]:
    """How a caller may pass a parameter of this kind."""
    return {
        "positional_only": {"positional"},
        "positional_or_keyword": {"positional", "keyword"},
        "keyword_only": {"keyword"},
        "var_positional": {"extra-positional"},
        "var_keyword": {"extra-keyword"},
    }.get(kind, set())


def _renames(old_params: list[dict], new_params: list[dict]) -> dict[str, str]:
    """Old positional names whose slot holds a name the old signature did not have."""
    old_names = {p["name"] for p in old_params}
    new_names = {p["name"] for p in new_params}
    old_pos = [p["name"] for p in old_params if p["kind"] in _POSITIONAL]
    new_pos = [p["name"] for p in new_params if p["kind"] in _POSITIONAL]
    return {
        name: new_pos[i]
        for i, name in enumerate(old_pos)
        if name not in new_names and i < len(new_pos) and new_pos[i] not in old_names
    }


def _diff_parameter(label: str, p: dict, q: dict) -> list[Change]:
    changes = []
    pname = p["name"]
    old_styles, new_styles = _call_styles(p["kind"]), _call_styles(q["kind"])
    if not old_styles <= new_styles:
        changes.append(Change("parameter-kind-changed", label, "major",
                              f"{label}: parameter {pname!r} changed from {p['kind']} to {q['kind']}"))
    elif new_styles != old_styles:
        changes.append(Change("parameter-kind-widened", label, "minor",
                              f"{label}: parameter {pname!r} changed from {p['kind']} to {q['kind']}"))
    if q["kind"] not in _VARIADIC:
        if p["default"] is not None and q["default"] is None:
            changes.append(Change("parameter-now-required", label, "major", f"{label}: parameter {pname!r} lost its default"))
        elif p["default"] is None and q["default"] is not None and p["kind"] not in _VARIADIC:
            changes.append(Change("parameter-now-optional", label, "minor",
                                  f"{label}: parameter {pname!r} now has a default ({q['default']})"))
        elif p["default"] != q["default"]:
            changes.append(Change("default-changed", label, "major",
                                  f"{label}: the default of {pname!r} changed from {p['default']} to {q['default']}"))
    if p.get("annotation") != q.get("annotation"):
        changes.append(Change("annotation-changed", label, "patch",
                              f"{label}: the annotation of {pname!r} changed from {p.get('annotation')} to {q.get('annotation')}"))
    return changes


def _diff_signature(label: str, old: dict, new: dict) -> list[Change]:
    """Every change between two signatures (``{"params": [...], "returns": ...}``)."""
    changes = []
    old_params, new_params = old.get("params", []), new.get("params", [])
    by_name = {q["name"]: q for q in new_params}
    renames = _renames(old_params, new_params)
    matched = set()
    for p in old_params:
        pname = p["name"]
        q = by_name.get(renames.get(pname, pname))
        if q is None and p["kind"] in _VARIADIC:
            # *args/**kwargs under another name are the same parameter.
            q = next((x for x in new_params if x["kind"] == p["kind"]), None)
        if q is None:
            changes.append(Change("parameter-removed", label, "major", f"{label}: parameter {pname!r} was removed"))
            continue
        matched.add(q["name"])
        if q["name"] != pname and p["kind"] not in _VARIADIC:
            if p["kind"] == q["kind"] == "positional_only":
                changes.append(Change("positional-only-renamed", label, "patch",
                                      f"{label}: positional-only parameter {pname!r} was renamed to {q['name']!r}"))
            else:
                changes.append(Change("parameter-renamed", label, "major",
                                      f"{label}: parameter {pname!r} was renamed to {q['name']!r}"))
        changes += _diff_parameter(label, p, q)

    # Positions: a positional caller's arguments must land where they did.
    old_pos = [renames.get(p["name"], p["name"]) for p in old_params if p["kind"] in _POSITIONAL]
    new_pos = [q["name"] for q in new_params if q["kind"] in _POSITIONAL]
    common_old = [n for n in old_pos if n in new_pos]
    common_new = [n for n in new_pos if n in common_old]
    if common_old != common_new:
        changes.append(Change("parameters-reordered", label, "major",
                              f"{label}: positional parameters reordered from ({', '.join(common_old)}) "
                              f"to ({', '.join(common_new)})"))
    else:
        for n in common_old:
            before, after = old_pos.index(n), new_pos.index(n)
            if after > before:
                inserted = [x for x in new_pos[:after] if x not in old_pos]
                changes.append(Change("parameter-moved", label, "major",
                                      f"{label}: parameter {n!r} moved from position {before + 1} to {after + 1} "
                                      f"(after the new {', '.join(map(repr, inserted))}); positional calls would "
                                      "pass their arguments to the wrong parameters"))
                break  # one insertion shifts every later parameter: report it once

    for q in new_params:
        if q["name"] in matched or q["name"] in renames.values():
            continue
        if q["kind"] in _VARIADIC:
            changes.append(Change("optional-parameter-added", label, "minor", f"{label}: now accepts {_star(q)}"))
        elif q["default"] is None:
            changes.append(Change("required-parameter-added", label, "major", f"{label}: new required parameter {q['name']!r}"))
        else:
            changes.append(Change("optional-parameter-added", label, "minor", f"{label}: new optional parameter {q['name']!r}"))
    if (old.get("returns") or None) != (new.get("returns") or None):
        changes.append(Change("return-annotation-changed", label, "patch",
                              f"{label}: the return annotation changed from {old.get('returns')} to {new.get('returns')}"))
    return changes


def _star(param: dict) -> str:
    return ("*" if param["kind"] == "var_positional" else "**") + param["name"]


# -- names ---------------------------------------------------------------------------------------

def _function_kind(entry: dict) -> str:
    return "async function" if entry.get("async") else "function"


def _diff_class(name: str, o: dict, n: dict) -> list[Change]:
    changes = []
    old_methods, new_methods = o.get("methods", {}), n.get("methods", {})
    for method, sig in old_methods.items():
        label = name if method == "__init__" else f"{name}.{method}"
        other = new_methods.get(method)
        if other is None:
            changes.append(Change("name-removed", label, "major", f"method {name}.{method} was removed"))
            continue
        old_kind, new_kind = sig.get("kind", "method"), other.get("kind", "method")
        if "kind" in sig and "kind" in other and old_kind != new_kind:
            changes.append(Change("kind-changed", label, "major", f"{name}.{method} changed from a {old_kind} to a {new_kind}"))
            continue
        if bool(sig.get("async")) != bool(other.get("async")):
            changes.append(Change("kind-changed", label, "major",
                                  f"{name}.{method} changed from {'async' if sig.get('async') else 'sync'} "
                                  f"to {'async' if other.get('async') else 'sync'}"))
        changes += _diff_signature(label, sig, other)
    for method in new_methods:
        if method not in old_methods:
            changes.append(Change("name-added", f"{name}.{method}", "minor", f"new method {name}.{method}"))
    old_attrs, new_attrs = o.get("attributes"), n.get("attributes")
    if old_attrs is not None and new_attrs is not None:  # snapshots from before attributes were recorded
        for attr, value in old_attrs.items():
            label = f"{name}.{attr}"
            if attr not in new_attrs:
                changes.append(Change("attribute-removed", label, "major", f"class attribute {label} was removed"))
            elif new_attrs[attr] != value:
                changes.append(Change("constant-changed", label, "patch",
                                      f"class attribute {label} changed from {value} to {new_attrs[attr]}"))
        for attr in new_attrs:
            if attr not in old_attrs:
                changes.append(Change("attribute-added", f"{name}.{attr}", "minor", f"new class attribute {name}.{attr}"))
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
            if _function_kind(o) != _function_kind(n):
                changes.append(Change("kind-changed", name, "major",
                                      f"{name!r} changed from a {_function_kind(o)} to a {_function_kind(n)}"))
            changes += _diff_signature(name, o, n)
        elif o["kind"] == "class":
            changes += _diff_class(name, o, n)
        elif o["kind"] == "constant" and o.get("value") != n.get("value"):
            changes.append(Change("constant-changed", name, "patch", f"constant {name!r} changed from {o.get('value')} to {n.get('value')}"))
    for name, n in new.items():
        if name not in old:
            changes.append(Change("name-added", name, "minor", f"new public {n['kind']} {name!r}"))
    return changes


# -- bumps ---------------------------------------------------------------------------------------

def _release_level(v: Version) -> str:
    if v.patch:
        return "patch"
    return "minor" if v.minor else "major"


def bump_of(old_version: str, new_version: str) -> str:
    """The bump ``new`` makes over ``old``: the highest release component that grew.

    From a pre-release to a version of the same release, the level of that release.
    """
    o, n = Version(old_version), Version(new_version)
    if n.major != o.major:
        return "major"
    if n.minor != o.minor:
        return "minor"
    if o.is_prerelease and n.release == o.release:
        return _release_level(n)
    return "patch"


def effective_bump(change_bump: str, old_version: str | None) -> str:
    """The bump a change needs over ``old_version``: MAJOR needs only MINOR over a 0.x version."""
    if change_bump == "major" and old_version is not None and Version(old_version).major == 0:
        return "minor"
    return change_bump


def required_bump(changes: list[Change], old_version: str | None = None) -> str:
    """The bump all the changes together need over ``old_version`` (0.x-aware)."""
    need = max((_RANK[effective_bump(c.bump, old_version)] for c in changes), default=0)
    return BUMPS[need]


def bump_problems(name: str, old_version: str, old: dict, new_version: str, new: dict) -> list[Problem]:
    """The publish report's step 3: one problem per change that the new version under-bumps."""
    made = bump_of(old_version, new_version)
    problems = []
    for c in diff_snapshots(old, new):
        need = effective_bump(c.bump, old_version)
        if _RANK[need] > _RANK[made]:
            problems.append(Problem(
                "semver",
                f"{c.message}: needs a {need.upper()} bump over {name}@{old_version}, "
                f"but {new_version} is a {made.upper()} bump",
            ))
    return problems

"""Semantic versioning of API snapshots: what changed, and the bump each change needs.

A rule table in the spirit of cargo-semver-checks, over the snapshots of
:mod:`gilgamesh.registry.surface.snapshot`. Each rule has a ``kind`` (stable: the CLI's ``--json`` and
tests use it) and the bump it needs on a 1.x (or later) line:

============================  =====  ==========================================================
kind                          bump   when
============================  =====  ==========================================================
name-removed                  major  a public function, class, constant or method is gone (an
                                     inherited method included: a class that lost its base)
kind-changed                  major  a name changed kind (function, class, constant, module), a
                                     call returns another way (a value, a generator, a coroutine,
                                     an async generator: a function that returned a list and now
                                     yields; sync to async), or a method is used another way
                                     (instance method, staticmethod or classmethod, property;
                                     but see method-kind-changed)
parameter-removed             major  a parameter is gone (``*args``/``**kwargs`` included)
parameter-renamed             major  a parameter callers can name has a new name in its place
parameters-reordered          major  positional parameters changed their relative order
parameter-moved               major  a positional parameter moved right (one was inserted before)
parameter-kind-changed        major  a parameter can no longer be passed as before
                                     (e.g. positional-or-keyword to keyword-only)
required-parameter-added      major  a new parameter without a default
parameter-now-required        major  a parameter lost its default
default-changed               major  a default value changed
parameter-type-changed        major  a parameter's type no longer accepts every value it did
return-type-changed           major  the return type is not within the old one (float to tuple)
attribute-removed             major  a public class attribute is gone
base-removed                  major  a class no longer derives from a base
field-removed                 major  a dataclass or NamedTuple field is gone
fields-reordered              major  fields changed order (positional construction, unpacking)
field-now-keyword-only        major  a dataclass field became ``kw_only``
field-added (NamedTuple)      major  a NamedTuple gained a field (unpacking breaks)
enum-member-removed           major  an enum member is gone
enum-value-changed            major  an enum member's value changed
constant-type-changed         major  a constant's value is of a type not within the old one
                                     (``int`` to ``float`` or ``str``: ``range(LIMIT)`` breaks)
typeddict-key-removed         major  a TypedDict lost a key (callers that read it get KeyError)
typeddict-required-key-added  major  a TypedDict gained a required key (callers that build it
                                     lack it)
typeddict-key-now-required    major  an optional key became required (``total=False`` to
                                     ``True`` included): callers that build it without it break
typeddict-key-now-optional    major  a required key became optional (``total=True`` to
                                     ``False`` included): callers that read it may get KeyError
typeddict-key-type-changed    major  a key's type changed (callers both build and read it)
dataclass-now-frozen          major  a dataclass became ``frozen=True``: assigning to a field
                                     raises FrozenInstanceError
class-no-longer-hashable      major  instances are no longer hashable (no set members, no dict
                                     keys): an ``__eq__`` without ``__hash__``, a dataclass no
                                     longer frozen (its generated ``__hash__`` is gone)
name-added                    minor  a new public name or method
optional-parameter-added      minor  a new parameter with a default, or a new ``*args``/``**kwargs``
parameter-now-optional        minor  a parameter gained a default
parameter-kind-widened        minor  a parameter can be passed in more ways than before
attribute-added               minor  a new public class attribute
base-added                    minor  a class derives from one more base
field-added (dataclass)       minor  a dataclass gained a field
enum-member-added             minor  a new enum member
typeddict-optional-key-added  minor  a TypedDict gained an optional key
dataclass-no-longer-frozen    minor  a frozen dataclass's fields can now be assigned (a new
                                     ability; its hashability is class-no-longer-hashable's)
class-now-hashable            minor  instances became hashable
positional-only-renamed       patch  a positional-only parameter was renamed (no caller can tell)
parameter-type-widened        patch  a parameter accepts more than before (``int`` to ``float``)
return-type-narrowed          patch  every result is still of the old type (``float | None``
                                     to ``float``)
annotation-changed            patch  a parameter became annotated or unannotated
return-annotation-changed     patch  the return became annotated or unannotated
constant-changed              patch  a constant's (or class attribute's) value changed
constant-type-narrowed        patch  a constant's value is of a type within the old one
                                     (``float`` to ``int``: every use of it still works)
method-kind-changed           patch  a classmethod became a staticmethod or the reverse: calls
                                     through the class and through an instance still work
typeddict-total-changed       patch  a TypedDict's ``total=`` changed (what that does to each
                                     key is reported by key, above)
============================  =====  ==========================================================

Names are compared as their callers use them. A method's signature is compared as it is called:
without the parameter the call binds (``self``, ``cls``), a property's as read (its result only),
so ``K.m(x)`` on a classmethod ``m(cls, x)`` and on a staticmethod ``m(x)`` is one call. A change
of method kind is MAJOR where some use breaks: an instance method and a staticmethod or
classmethod differ for ``K.m(k, x)`` (through the class) or ``k.m(x)`` (the instance is passed, or
not), a property is read and a method called. How a call returns (``form``) is compared where both
snapshots record it; a runtime snapshot stored before forms, ``hashable``, ``frozen`` and TypedDict
keys were recorded (format 2) compares only what it holds (sync against async).

The HTTP surface is part of the promise too, for callers that are not Python: the endpoints
(``metadata.gilgamesh.endpoints``) and each one's JSON Schema, of its request body and of its
result, as the service enforces and ``/openapi.json`` declares them
(:mod:`gilgamesh.registry.surface.http`). :func:`diff_http_surface` compares the predecessor's
stored endpoints with the new version's; each change names the route its callers use,
``/models/{name}/{spec}/{function}`` (the old version's line; for a new endpoint, the new one's):

================================  =====  ========================================================
kind                              bump   when
================================  =====  ========================================================
endpoint-removed                  major  an endpoint is gone: its callers get 404
endpoint-parameter-narrowed       major  the request accepts less: a parameter's schema narrowed
                                         (``float`` to ``int``, ``float | None`` to ``float``,
                                         ``list[float]`` to ``list[int]``), a parameter removed, a
                                         required parameter added, or one that lost its default
endpoint-result-widened           major  the result returns more: it may now be null (``float`` to
                                         ``float | None``) or is of a wider type (``int`` to
                                         ``float``)
endpoint-added                    minor  a new endpoint
endpoint-parameter-added          minor  a new optional parameter (a new capability, as for Python
                                         callers: optional-parameter-added)
endpoint-parameter-now-optional   minor  a parameter gained a default
endpoint-parameter-widened        patch  a parameter accepts more (``int`` to ``float``)
endpoint-result-narrowed          patch  every result is still within the old schema
================================  =====  ========================================================

Schemas are compared as JSON values, not as Python types: a boolean is no integer there (the
binder refuses ``true`` for an ``int``), and a numpy array is an array of numbers of its ranks. A
default's value is not part of the schema's promise (``default-changed`` covers it). An HTTP
change is listed even where a Python rule reports the same edit (a function can stay while its
endpoint goes); the bump needed is the highest of all.

Types are compared as the endpoint type grammar reads them (:mod:`gilgamesh.registry.surface.types`):
``Optional[np.ndarray]`` and ``numpy.ndarray | None`` are one type, ``int`` is within ``float``.
Defaults and values are compared as values where they are literals (``"SI"`` is ``'SI'``).

While the predecessor's major version is 0, what needs MAJOR needs MINOR (docs/guide.md, section 4,
check 3); additions still need MINOR. Pre-releases promise nothing: from a
pre-release to a version of the same release (``2.0.0rc1`` to ``2.0.0``), the bump made is the
level of that release (``2.0.0`` is a major release, ``1.3.0`` a minor one, ``1.2.1`` a patch).
"""

from __future__ import annotations

import ast
from typing import NamedTuple

from gilgamesh.errors import Problem
from gilgamesh.versions import Version

from gilgamesh.registry.surface.types import accepts, canonical_type, parse_type
from gilgamesh.registry.surface.http import http_surface, schema_within

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
        elif not _same_default(p["default"], q["default"]):
            changes.append(Change("default-changed", label, "major",
                                  f"{label}: the default of {pname!r} changed from {p['default']} to {q['default']}"))
    changes += _diff_parameter_type(label, pname, p.get("annotation"), q.get("annotation"))
    return changes


def _diff_parameter_type(label: str, pname: str, old: str | None, new: str | None) -> list[Change]:
    """A parameter may accept more (a patch) but not less: a caller's argument must stay valid."""
    if canonical_type(old) == canonical_type(new):
        return []
    what = f"{label}: the type of {pname!r} changed from {old} to {new}"
    if old is None or new is None:
        return [Change("annotation-changed", label, "patch", what + " (annotated or unannotated: no caller's argument is refused)")]
    if accepts(parse_type(new), parse_type(old)):
        return [Change("parameter-type-widened", label, "patch", what + " (it accepts every value it accepted)")]
    return [Change("parameter-type-changed", label, "major", what + "; arguments of the old type no longer fit")]


def _diff_return_type(label: str, old: str | None, new: str | None) -> list[Change]:
    """A result may narrow (a patch) but not change: callers use what it returned."""
    if canonical_type(old) == canonical_type(new):
        return []
    what = f"{label}: the return type changed from {old} to {new}"
    if old is None or new is None:
        return [Change("return-annotation-changed", label, "patch", what + " (annotated or unannotated)")]
    if accepts(parse_type(old), parse_type(new)):
        return [Change("return-type-narrowed", label, "patch", what + " (every result is still of the old type)")]
    return [Change("return-type-changed", label, "major", what + "; callers that use the result as before break")]


def _same_default(a: str | None, b: str | None) -> bool:
    """Two defaults' texts name the same value (``"SI"`` and ``'SI'``, ``1e3`` and ``1000.0``)."""
    if a == b:
        return True
    if a is None or b is None:
        return False
    try:
        x, y = ast.literal_eval(a), ast.literal_eval(b)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return type(x) is type(y) and x == y


def _diff_signature(label: str, old: dict, new: dict) -> list[Change]:
    """Every change between two signatures (``{"params": [...], "returns": ...}``)."""
    changes = []
    old_params, new_params = old.get("params"), new.get("params")
    if old_params is None or new_params is None:  # a callable without a signature (some builtins)
        return _diff_return_type(label, old.get("returns") or None, new.get("returns") or None)
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
    changes += _diff_return_type(label, old.get("returns") or None, new.get("returns") or None)
    return changes


def _star(param: dict) -> str:
    return ("*" if param["kind"] == "var_positional" else "**") + param["name"]


# -- names ---------------------------------------------------------------------------------------

_FORMS = {"function": "function", "generator": "generator function", "coroutine": "async function",
          "async generator": "async generator function"}
_RETURNS = {"function": "its value", "generator function": "a generator", "async function": "a coroutine to await",
            "async generator function": "an async generator"}


def _function_kind(entry: dict) -> str:
    """How a call returns, as its callers must use it: a ``function`` (its value), a ``generator
    function``, an ``async function`` (a coroutine) or an ``async generator function``. A snapshot
    from before forms were recorded tells only sync from async."""
    form = entry.get("form")
    if form in _FORMS:
        return _FORMS[form]
    return "async function" if entry.get("async") else "function"


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _diff_form(what: str, label: str, o: dict, n: dict, noun: str = "function") -> list[Change]:
    """A function (or method) whose calls return another way: its callers iterate, await or use a value."""
    if "form" not in o or "form" not in n:  # one side from before forms: only sync and async compare
        old, new = ("async" if o.get("async") else "sync"), ("async" if n.get("async") else "sync")
        return [] if old == new else [Change("kind-changed", label, "major", f"{what} changed from {old} to {new}")]
    old, new = _function_kind(o), _function_kind(n)
    if old == new:
        return []
    return [Change("kind-changed", label, "major", f"{what} changed from {_a(old.replace('function', noun))} to "
                   f"{_a(new.replace('function', noun))}: a call now returns {_RETURNS[new]}, not {_RETURNS[old]}")]


def _as_called(entry: dict) -> dict:
    """A method's signature as its callers see it: without the parameter the call binds (``self``
    of an instance method, ``cls`` of a classmethod); a property's without any (it is read)."""
    params = entry.get("params")
    if entry.get("kind") == "property":
        return {**entry, "params": []}
    if entry.get("kind", "method") in ("method", "classmethod") and params and params[0]["kind"] in _POSITIONAL:
        return {**entry, "params": params[1:]}
    return entry


def _method_kind_changes(cls: str, method: str, label: str, old: str, new: str) -> list[Change]:
    """A method of another kind, judged by its uses: through the class and through an instance."""
    where = f"{cls}.{method}"
    if {old, new} == {"classmethod", "staticmethod"}:
        return [Change("method-kind-changed", label, "patch",
                       f"{where} changed from a {old} to a {new}: calls through the class ({where}(...)) and "
                       f"through an instance (obj.{method}(...)) still work")]
    if old == "property":
        why = f"it was read as a value (obj.{method}); it is now a {new} to call"
    elif new == "property":
        why = f"calls obj.{method}(...) now call the value it returns"
    else:
        why = {
            ("method", "staticmethod"): f"calls through an instance (obj.{method}(...)) no longer pass it the instance",
            ("method", "classmethod"): f"calls through the class ({where}(obj, ...)) pass the instance as one argument "
                                       "too many, and it no longer receives the instance",
            ("staticmethod", "method"): f"calls through an instance (obj.{method}(...)) now pass the instance "
                                        "as its first argument",
            ("classmethod", "method"): f"calls through the class ({where}(...)) no longer pass it the class, "
                                       "nor an instance",
        }.get((old, new), "its callers reach it another way")
    return [Change("kind-changed", label, "major", f"{where} changed from a {old} to a {new}: {why}")]


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
            found = _method_kind_changes(name, method, label, old_kind, new_kind)
            changes += found
            if any(c.bump == "major" for c in found):
                continue
        if "property" not in (old_kind, new_kind):
            changes += _diff_form(f"{name}.{method}", label, sig, other, "method")
        changes += _diff_signature(label, _as_called(sig), _as_called(other))
    for method in new_methods:
        if method not in old_methods:
            changes.append(Change("name-added", f"{name}.{method}", "minor", f"new method {name}.{method}"))
    old_attrs, new_attrs = o.get("attributes"), n.get("attributes")
    if old_attrs is not None and new_attrs is not None:  # snapshots from before attributes were recorded
        for attr, value in old_attrs.items():
            label = f"{name}.{attr}"
            if attr not in new_attrs:
                changes.append(Change("attribute-removed", label, "major", f"class attribute {label} was removed"))
            elif not _same_default(new_attrs[attr], value):
                changes.append(Change("constant-changed", label, "patch",
                                      f"class attribute {label} changed from {value} to {new_attrs[attr]}"))
        for attr in new_attrs:
            if attr not in old_attrs:
                changes.append(Change("attribute-added", f"{name}.{attr}", "minor", f"new class attribute {name}.{attr}"))
    return (changes + _diff_bases(name, o, n) + _diff_fields(name, o, n) + _diff_enum(name, o, n)
            + _diff_frozen(name, o, n) + _diff_hashable(name, o, n) + _diff_typeddict(name, o, n))


def _diff_frozen(name: str, o: dict, n: dict) -> list[Change]:
    """A dataclass's ``frozen``: whether callers may assign to its fields."""
    if "frozen" not in o or "frozen" not in n or bool(o["frozen"]) == bool(n["frozen"]):
        return []  # not a dataclass, or a snapshot from before frozen was recorded
    if n["frozen"]:
        return [Change("dataclass-now-frozen", name, "major", f"dataclass {name} became frozen: callers that assign "
                       "to its fields (obj.field = ...) get FrozenInstanceError")]
    return [Change("dataclass-no-longer-frozen", name, "minor", f"dataclass {name} is no longer frozen: its fields "
                   "can now be assigned")]


def _diff_hashable(name: str, o: dict, n: dict) -> list[Change]:
    """Whether instances are hashable: callers put them in sets and use them as dict keys."""
    if "hashable" not in o or "hashable" not in n or bool(o["hashable"]) == bool(n["hashable"]):
        return []
    if o["hashable"]:
        why = " (a dataclass that is no longer frozen loses its generated __hash__)" if o.get("frozen") and not n.get("frozen") else ""
        return [Change("class-no-longer-hashable", name, "major", f"instances of {name} are no longer hashable{why}: "
                       "callers that put them in a set or use them as dict keys get TypeError")]
    return [Change("class-now-hashable", name, "minor", f"instances of {name} are now hashable")]


def _diff_typeddict(name: str, o: dict, n: dict) -> list[Change]:
    """A TypedDict's keys: callers build such dicts (every required key) and read them (``d[key]``)."""
    old, new = o.get("typeddict"), n.get("typeddict")
    if old is None or new is None:
        return []
    changes = []
    old_keys, new_keys = old.get("keys", {}), new.get("keys", {})
    for key, was in old_keys.items():
        label = f"{name}[{key!r}]"
        now = new_keys.get(key)
        if now is None:
            changes.append(Change("typeddict-key-removed", label, "major", f"TypedDict {name} lost its key {key!r}: "
                                  f"callers that read it (d[{key!r}]) get KeyError"))
            continue
        if was.get("required") and not now.get("required"):
            changes.append(Change("typeddict-key-now-optional", label, "major", f"TypedDict {name}'s key {key!r} is no "
                                  f"longer required: callers that read it (d[{key!r}]) may get KeyError"))
        elif now.get("required") and not was.get("required"):
            changes.append(Change("typeddict-key-now-required", label, "major", f"TypedDict {name}'s key {key!r} became "
                                  f"required: callers that build it without {key!r} break"))
        if canonical_type(was.get("annotation")) != canonical_type(now.get("annotation")):
            changes.append(Change("typeddict-key-type-changed", label, "major", f"the type of TypedDict {name}'s key "
                                  f"{key!r} changed from {was.get('annotation')} to {now.get('annotation')} (callers "
                                  "both build and read it)"))
    for key, now in new_keys.items():
        if key in old_keys:
            continue
        if now.get("required"):
            changes.append(Change("typeddict-required-key-added", f"{name}[{key!r}]", "major", f"TypedDict {name} gained "
                                  f"the required key {key!r}: callers that build it without {key!r} break"))
        else:
            changes.append(Change("typeddict-optional-key-added", f"{name}[{key!r}]", "minor",
                                  f"TypedDict {name} gained the optional key {key!r}"))
    if bool(old.get("total", True)) != bool(new.get("total", True)):
        changes.append(Change("typeddict-total-changed", name, "patch", f"TypedDict {name} changed from "
                              f"total={bool(old.get('total', True))} to total={bool(new.get('total', True))}"))
    return changes


def _diff_bases(name: str, o: dict, n: dict) -> list[Change]:
    if "bases" not in o or "bases" not in n:  # format 1 has no bases
        return []
    old_bases = {canonical_type(b) for b in o["bases"]}
    new_bases = {canonical_type(b) for b in n["bases"]}
    changes = [Change("base-removed", name, "major", f"class {name} no longer derives from {b} (isinstance checks and "
                      "what it inherited are gone)") for b in sorted(old_bases - new_bases)]
    changes += [Change("base-added", name, "minor", f"class {name} now also derives from {b}") for b in sorted(new_bases - old_bases)]
    return changes


def _diff_fields(name: str, o: dict, n: dict) -> list[Change]:
    """Dataclass and NamedTuple fields: their order is how positional construction, unpacking and
    indexing reach them."""
    if "fields" not in o or "fields" not in n:
        return []
    old_fields = {f["name"]: f for f in o["fields"]}
    new_fields = {f["name"]: f for f in n["fields"]}
    what = "NamedTuple" if n.get("field_kind") == "namedtuple" else "dataclass"
    changes = [Change("field-removed", f"{name}.{f}", "major", f"{what} {name} lost its field {f!r}")
               for f in old_fields if f not in new_fields]
    common_old = [f for f in old_fields if f in new_fields]
    common_new = [f for f in new_fields if f in old_fields]
    if common_old != common_new:
        changes.append(Change("fields-reordered", name, "major", f"{what} {name}'s fields were reordered from "
                              f"({', '.join(common_old)}) to ({', '.join(common_new)}); positional construction, "
                              "unpacking and indexing now reach other fields"))
    for f, field in new_fields.items():
        if f in old_fields:
            if field.get("kw_only") and not old_fields[f].get("kw_only"):
                changes.append(Change("field-now-keyword-only", f"{name}.{f}", "major",
                                      f"{what} {name}'s field {f!r} became keyword-only: positional construction breaks"))
            continue
        if what == "NamedTuple":
            changes.append(Change("field-added", f"{name}.{f}", "major",
                                  f"NamedTuple {name} gained the field {f!r}: unpacking it into {len(old_fields)} names breaks"))
        else:
            changes.append(Change("field-added", f"{name}.{f}", "minor", f"dataclass {name} gained the field {f!r}"))
    return changes


def _diff_enum(name: str, o: dict, n: dict) -> list[Change]:
    old, new = o.get("enum"), n.get("enum")
    if old is None or new is None:
        return []
    changes = []
    for member, value in old.items():
        if member not in new:
            changes.append(Change("enum-member-removed", f"{name}.{member}", "major", f"enum member {name}.{member} was removed"))
        elif not _same_default(value, new[member]):
            changes.append(Change("enum-value-changed", f"{name}.{member}", "major",
                                  f"the value of enum member {name}.{member} changed from {value} to {new[member]}"))
    changes += [Change("enum-member-added", f"{name}.{m}", "minor", f"new enum member {name}.{m}") for m in new if m not in old]
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
            changes += _diff_form(repr(name), name, o, n)
            changes += _diff_signature(name, o, n)
        elif o["kind"] == "class":
            changes += _diff_class(name, o, n)
        elif o["kind"] == "constant":
            old_type, new_type = o.get("type"), n.get("type")
            if old_type and new_type and canonical_type(old_type) != canonical_type(new_type):
                what = f"constant {name!r} changed type from {old_type} to {new_type} ({o.get('value')} to {n.get('value')})"
                if accepts(parse_type(old_type), parse_type(new_type)):
                    changes.append(Change("constant-type-narrowed", name, "patch",
                                          f"{what}: every use of {_a(old_type)} still works"))
                else:
                    changes.append(Change("constant-type-changed", name, "major",
                                          f"{what}: callers that use it as {_a(old_type)} break"))
            elif not _same_default(o.get("value"), n.get("value")):
                changes.append(Change("constant-changed", name, "patch",
                                      f"constant {name!r} changed from {o.get('value')} to {n.get('value')}"))
        elif o["kind"] == "module" and o.get("value") != n.get("value"):
            changes.append(Change("kind-changed", name, "major", f"{name!r} is now the module {n.get('value')}, not {o.get('value')}"))
    for name, n in new.items():
        if name not in old:
            changes.append(Change("name-added", name, "minor", f"new public {n['kind']} {name!r}"))
    return changes


# -- the HTTP surface ----------------------------------------------------------------------------
# The endpoints and their JSON Schemas (the module docstring's second table). The signatures come
# from gilgamesh.registry.surface.http: a published version's stored ``endpoints`` (what the service
# binds calls against), a new version's as its publish would store them.

__all__ += ["HttpChange", "diff_http_surface", "HTTP"]

HTTP = "http"  # the ``surface`` of an HTTP change (``gilgamesh diff --json``, the publish outcome)


class HttpChange(NamedTuple):
    """A change of the HTTP surface: a :class:`Change` that also names the route it affects."""

    kind: str  # e.g. "endpoint-removed"
    name: str  # the endpoint's function
    bump: str
    message: str  # names the route, what changed, and what its callers see
    route: str  # /models/{name}/{spec}/{function}
    surface: str = HTTP

    def to_dict(self) -> dict:
        return self._asdict()


def _http_type(text: str | None) -> str:
    """An annotation as the messages show it: its one spelling, and the JSON values it takes."""
    from gilgamesh.registry.surface.types import parse_annotation

    return f"{canonical_type(text) or 'unannotated'} ({parse_annotation(text).description})"


_NULL = {"type": "null"}


def _diff_endpoint(old, new) -> list[HttpChange]:
    """The changes of one endpoint's request and result schemas (``old``, ``new``: HttpEndpoints)."""
    fn, where = old.function, f"endpoint POST {old.route}"
    changes = []

    def change(kind, bump, text):
        changes.append(HttpChange(kind, fn, bump, f"{where}: {text}", old.route))

    old_props, new_props = old.params.get("properties", {}), new.params.get("properties", {})
    old_required, new_required = set(old.params.get("required", ())), set(new.params.get("required", ()))
    old_types = {p["name"]: p.get("annotation") for p in old.signature.get("params") or []}
    new_types = {p["name"]: p.get("annotation") for p in new.signature.get("params") or []}
    for p, schema in old_props.items():
        if p not in new_props:
            change("endpoint-parameter-narrowed", "major",
                   f"parameter {p!r} was removed; calls that send it are refused (400)")
            continue
        was, now = _http_type(old_types.get(p)), _http_type(new_types.get(p))
        if not schema_within(schema, new_props[p]):
            change("endpoint-parameter-narrowed", "major",
                   f"parameter {p!r} accepts less: {was} became {now}; arguments the old schema accepted are refused (400)")
        elif not schema_within(new_props[p], schema):
            change("endpoint-parameter-widened", "patch", f"parameter {p!r} accepts more: {was} became {now}")
        if p in new_required and p not in old_required:
            change("endpoint-parameter-narrowed", "major",
                   f"parameter {p!r} is now required; calls without it are refused (400)")
        elif p in old_required and p not in new_required:
            change("endpoint-parameter-now-optional", "minor", f"parameter {p!r} is now optional")
    for p in new_props:
        if p in old_props:
            continue
        if p in new_required:
            change("endpoint-parameter-narrowed", "major",
                   f"new required parameter {p!r}; calls without it are refused (400)")
        else:
            change("endpoint-parameter-added", "minor", f"new optional parameter {p!r}")
    was, now = _http_type(old.signature.get("returns")), _http_type(new.signature.get("returns"))
    if not schema_within(new.result, old.result):
        if schema_within(_NULL, new.result) and not schema_within(_NULL, old.result):
            what = f"the result may now be null: {was} became {now}"
        else:
            what = f"the result may now be outside its old schema: {was} became {now}"
        change("endpoint-result-widened", "major", what + "; callers that use it as before break")
    elif not schema_within(old.result, new.result):
        change("endpoint-result-narrowed", "patch",
               f"the result narrowed from {was} to {now} (every result is still within the old schema)")
    return changes


def diff_http_surface(name: str, old_version: str, old_signatures: dict, new_version: str,
                      new_signatures: dict) -> list[HttpChange]:
    """Every change of the HTTP surface from ``name@old_version`` to ``name@new_version``, with the
    bump it needs (for a 1.x or later line); the signatures are ``{function: {"params", "returns"}}``
    (:func:`gilgamesh.registry.surface.http.published_signatures`, ``endpoint_signatures``)."""
    old = http_surface(name, old_version, old_signatures)
    new = http_surface(name, new_version, new_signatures)
    changes = []
    for fn, endpoint in old.items():
        if fn not in new:
            changes.append(HttpChange("endpoint-removed", fn, "major",
                                      f"endpoint POST {endpoint.route} was removed (its HTTP callers would get 404)",
                                      endpoint.route))
        else:
            changes += _diff_endpoint(endpoint, new[fn])
    for fn, endpoint in new.items():
        if fn not in old:
            changes.append(HttpChange("endpoint-added", fn, "minor", f"new endpoint POST {endpoint.route}", endpoint.route))
    return changes


def _reported(change) -> str:
    """A change as the publish report words it: an HTTP one under its heading."""
    return f"HTTP surface: {change.message}" if getattr(change, "surface", None) == HTTP else change.message


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


def bump_problems(name: str, old_version: str, old: dict, new_version: str, new: dict,
                  http_changes=()) -> list[Problem]:
    """The publish report's step 3: one problem per change that the new version under-bumps
    (``http_changes``: those of :func:`diff_http_surface`, reported after the Python API's)."""
    made = bump_of(old_version, new_version)
    problems = []
    for c in diff_snapshots(old, new) + list(http_changes):
        need = effective_bump(c.bump, old_version)
        if _RANK[need] > _RANK[made]:
            problems.append(Problem(
                "semver",
                f"{_reported(c)}: needs a {need.upper()} bump over {name}@{old_version}, "
                f"but {new_version} is a {made.upper()} bump",
            ))
    return problems

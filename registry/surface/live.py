"""The public surface of a notebook's module as it really is after its code ran.

:func:`describe` walks a namespace (the validation kernel's user namespace after the notebook's
cells, or a module that ran the import cells) and describes each public name as a caller reaches
it: ``__all__`` however it was built, re-exported names, lambdas, ``functools.partial`` objects and
decorated functions (``inspect.signature`` follows ``__wrapped__`` and partials), classes with
their bases, inherited members, class attributes, dataclass and NamedTuple fields, enum members.
What callers do with a name is recorded too: how a call returns (``form``: a value, a generator, a
coroutine, an async generator), a method's kind (instance method, ``staticmethod``,
``classmethod``, ``property``), whether a dataclass is frozen and a class's instances hashable,
a TypedDict's keys and which of them are required.
It runs inside the code's own process and imports nothing heavy; what it returns is plain JSON.

Which names are public comes from ``__all__`` when the namespace has one, else from the facts the
registry read statically (:func:`gilgamesh.registry.surface.snapshot.static_facts`): the names the import
cells bind, minus imported ones and ``_private`` ones (a kernel's namespace also holds what the
example cells and IPython bound).

Run as ``python -m gilgamesh.registry.surface.live JOB.json`` it executes the notebook's import
cells in a fresh ``__main__`` module and prints the description: what ``gilgamesh diff`` uses for
a working copy, and publish when it skips the validation kernel.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import re
import sys
import types
import typing

__all__ = ["describe", "type_text", "main"]

FORMAT = 3  # the snapshot format this module writes (1: read statically; 2: before forms, frozen, hashable, TypedDict keys)
_PARAM_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: "positional_only",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional_or_keyword",
    inspect.Parameter.VAR_POSITIONAL: "var_positional",
    inspect.Parameter.KEYWORD_ONLY: "keyword_only",
    inspect.Parameter.VAR_KEYWORD: "var_keyword",
}
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_VALUE_LIMIT = 200


def type_text(annotation) -> str | None:
    """An annotation object as source-like text (``numpy.ndarray``, ``list[float]``, ``ProbeAnalysis``)."""
    if annotation is inspect.Parameter.empty or annotation is inspect.Signature.empty:
        return None
    if isinstance(annotation, str):
        return annotation
    forward = getattr(annotation, "__forward_arg__", None)
    if isinstance(forward, str):  # typing.ForwardRef('float'), as NamedTuple keeps annotations
        return forward
    if annotation is None or annotation is type(None):
        return "None"
    if isinstance(annotation, type) and not isinstance(annotation, types.GenericAlias):
        module = annotation.__module__
        if module in ("builtins", "__main__"):
            return annotation.__qualname__
        return f"{module}.{annotation.__qualname__}"
    return _ADDRESS.sub("", repr(annotation).replace("__main__.", ""))


def _value_text(value) -> str:
    """A value's repr, stable across runs (no addresses), cut to a readable length."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ is the object's own business
        text = f"<{type(value).__name__}>"
    return _ADDRESS.sub("", text)[:_VALUE_LIMIT]


def _signature(obj, *, drop_first: bool = False) -> dict | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None  # some builtins have none
    params = []
    for i, p in enumerate(sig.parameters.values()):
        if drop_first and i == 0:
            continue
        params.append({
            "name": p.name,
            "kind": _PARAM_KINDS[p.kind],
            "annotation": type_text(p.annotation),
            "default": None if p.default is inspect.Parameter.empty else _value_text(p.default),
        })
    return {"params": params, "returns": type_text(sig.return_annotation)}


def _target(obj):
    """What a call reaches: the function under decorators (``__wrapped__``) and partials."""
    seen = 0
    while seen < 20:
        seen += 1
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
        elif getattr(obj, "__wrapped__", None) is not None and not isinstance(obj, type):
            obj = obj.__wrapped__
        else:
            break
    return obj


def _is_async(obj) -> bool:
    return inspect.iscoroutinefunction(obj) or inspect.iscoroutinefunction(_target(obj))


def _form(obj) -> str:
    """How a call returns: ``function`` (its value), ``generator``, ``coroutine`` (an ``async def``)
    or ``async generator``. A plain wrapper (a decorator, a partial) takes the form of what it wraps:
    it hands back what the wrapped call returned."""
    for candidate in (obj, _target(obj)):
        if inspect.isasyncgenfunction(candidate):
            return "async generator"
        if inspect.iscoroutinefunction(candidate):
            return "coroutine"
        if inspect.isgeneratorfunction(candidate):
            return "generator"
    return "function"


def _function_entry(obj) -> dict:
    entry = {"kind": "function", **(_signature(obj) or {"params": None, "returns": None}), "form": _form(obj)}
    if _is_async(obj):
        entry["async"] = True
    target = _target(obj)
    if isinstance(obj, functools.partial):
        entry["via"] = "partial"
    elif getattr(target, "__name__", None) == "<lambda>":
        entry["via"] = "lambda"
    elif target is not obj:
        entry["via"] = "decorated"
    entry["doc"] = bool(getattr(target, "__doc__", None))
    return entry


def _is_public_member(name: str) -> bool:
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


def _foreign(klass) -> bool:
    """Classes whose members are not the notebook's API: builtins and the standard library."""
    top = (klass.__module__ or "").split(".")[0]
    return top in ("builtins", "abc") or top in getattr(sys, "stdlib_module_names", ())


def _generated(func) -> bool:
    """Methods written by dataclasses, NamedTuple, enum: their effect is in the constructor and fields."""
    code = getattr(_target(func), "__code__", None)
    return code is None or code.co_filename.startswith("<") or _foreign_code(code)


def _foreign_code(code) -> bool:
    prefix = sys.base_prefix
    return code.co_filename.startswith(prefix) and "site-packages" not in code.co_filename


def _method_entry(raw) -> dict | None:
    if isinstance(raw, staticmethod):
        return {"kind": "staticmethod", **(_signature(raw.__func__) or {"params": None, "returns": None}),
                "form": _form(raw.__func__)}
    if isinstance(raw, classmethod):
        return {"kind": "classmethod", **(_signature(raw.__func__) or {"params": None, "returns": None}),
                "form": _form(raw.__func__)}
    if isinstance(raw, (property, functools.cached_property)):
        getter = raw.fget if isinstance(raw, property) else raw.func
        sig = _signature(getter) if getter is not None else None
        return {"kind": "property", "params": (sig or {}).get("params"), "returns": (sig or {}).get("returns")}
    if inspect.isfunction(raw) or inspect.isfunction(_target(raw)):
        entry = {"kind": "method", **(_signature(raw) or {"params": None, "returns": None}), "form": _form(raw)}
        if _is_async(raw):
            entry["async"] = True
        return entry
    return None


def _class_entry(cls) -> dict:
    entry: dict = {"kind": "class", "doc": bool(cls.__doc__)}
    entry["bases"] = [type_text(b) for b in cls.__bases__ if b is not object]
    methods: dict[str, dict] = {}
    attributes: dict[str, str] = {}
    for klass in reversed(cls.__mro__):  # a subclass's member replaces its base's
        if klass is object or _foreign(klass):
            continue
        for name, raw in vars(klass).items():
            if not _is_public_member(name) or name in ("__init__", "__new__"):
                continue
            method = _method_entry(raw)
            if method is not None:
                if name.startswith("__") and _generated(raw):
                    continue
                methods[name] = method
                attributes.pop(name, None)
            elif not name.startswith("_") and not isinstance(raw, (type, types.ModuleType)):
                if isinstance(cls, enum.EnumMeta) and isinstance(raw, cls):
                    continue  # members are listed under "enum"
                attributes[name] = _value_text(raw)
                methods.pop(name, None)
    # The constructor: what ``cls(...)`` accepts, whoever wrote it (the author, dataclasses, NamedTuple).
    constructor = None if isinstance(cls, enum.EnumMeta) else _signature(cls)
    if constructor is not None:
        constructor["params"].insert(0, {"name": "self", "kind": "positional_or_keyword", "annotation": None, "default": None})
        methods["__init__"] = {"kind": "method", **constructor, "returns": None}
    entry["methods"] = dict(sorted(methods.items()))
    entry["attributes"] = dict(sorted(attributes.items()))
    entry["hashable"] = getattr(cls, "__hash__", None) is not None  # set members, dict keys
    if dataclasses.is_dataclass(cls):
        entry["fields"] = [{"name": f.name, "annotation": type_text(f.type), "kw_only": bool(getattr(f, "kw_only", False)),
                            "default": _field_default(f)} for f in dataclasses.fields(cls)]
        entry["field_kind"] = "dataclass"
        entry["frozen"] = bool(getattr(getattr(cls, "__dataclass_params__", None), "frozen", False))
    elif issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple):
        defaults = getattr(cls, "_field_defaults", {})
        annotations = getattr(cls, "__annotations__", {})
        entry["fields"] = [{"name": n, "annotation": type_text(annotations.get(n, inspect.Parameter.empty)),
                            "kw_only": False, "default": _value_text(defaults[n]) if n in defaults else None}
                           for n in cls._fields]
        entry["field_kind"] = "namedtuple"
    for field in entry.get("fields", ()):
        entry["attributes"].pop(field["name"], None)  # a field is described once, with its order
    if isinstance(cls, enum.EnumMeta):
        entry["enum"] = {m.name: _value_text(m.value) for m in cls}
    if _is_typeddict(cls):
        required = cls.__required_keys__
        entry["typeddict"] = {"total": bool(getattr(cls, "__total__", True)),
                              "keys": {k: {"annotation": _key_type(a), "required": _key_required(a, k in required)}
                                       for k, a in getattr(cls, "__annotations__", {}).items()}}
    return entry


_KEY_QUALIFIER = re.compile(r"^(?:typing(?:_extensions)?\.)?(?:Required|NotRequired|ReadOnly)\[(.*)\]$")


def _is_typeddict(cls) -> bool:
    """A ``typing`` (or ``typing_extensions``) TypedDict: a dict class that knows its required keys."""
    return issubclass(cls, dict) and isinstance(getattr(cls, "__required_keys__", None), frozenset) \
        and isinstance(getattr(cls, "__optional_keys__", None), frozenset)


def _key_required(annotation, runtime: bool) -> bool:
    """Whether a TypedDict key is required; a string annotation (``from __future__ import
    annotations``) hides ``Required[...]``/``NotRequired[...]`` from the class: read its text."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__forward_arg__", None)
    match = _KEY_QUALIFIER.match(text) if isinstance(text, str) else None
    if match is not None:
        qualifier = text[:len(text) - len(match.group(1)) - 2].rsplit(".", 1)[-1]
        if qualifier in ("Required", "NotRequired"):
            return qualifier == "Required"
    return runtime


def _key_type(annotation) -> str | None:
    """A TypedDict key's type, without ``Required[...]``/``NotRequired[...]`` (recorded as ``required``)."""
    origin = typing.get_origin(annotation)
    if origin is not None and getattr(origin, "_name", None) in ("Required", "NotRequired", "ReadOnly"):
        args = typing.get_args(annotation)
        annotation = args[0] if args else annotation
    text = type_text(annotation)
    while text is not None and _KEY_QUALIFIER.match(text):  # a string annotation (``from __future__ import annotations``)
        text = _KEY_QUALIFIER.match(text).group(1)
    return text


def _field_default(field) -> str | None:
    if field.default is not dataclasses.MISSING:
        return _value_text(field.default)
    if field.default_factory is not dataclasses.MISSING:
        return f"{getattr(field.default_factory, '__name__', 'factory')}()"
    return None


def _entry(obj) -> dict:
    if inspect.isclass(obj):
        return _class_entry(obj)
    if inspect.ismodule(obj):
        return {"kind": "module", "value": obj.__name__}
    if callable(obj) and (inspect.isroutine(obj) or isinstance(obj, functools.partial) or inspect.isfunction(_target(obj))):
        return _function_entry(obj)
    return {"kind": "constant", "value": _value_text(obj), "type": type_text(type(obj))}


def public_names(namespace: dict, facts: dict) -> list[str]:
    declared = namespace.get("__all__")
    if isinstance(declared, (list, tuple)) and all(isinstance(n, str) for n in declared):
        return list(dict.fromkeys(declared))
    imported = set(facts.get("imported", ()))
    return [n for n in facts.get("bound", ()) if not n.startswith("_") and n not in imported]


def describe(namespace: dict, facts: dict) -> dict:
    """``{"format": 3, "api": {name: entry}, "missing": [names in __all__ the namespace lacks]}``."""
    api, missing = {}, []
    for name in public_names(namespace, facts):
        if name not in namespace:
            missing.append(name)
            continue
        try:
            api[name] = _entry(namespace[name])
        except Exception as e:  # noqa: BLE001 - an object that breaks introspection is still a name
            api[name] = {"kind": "constant", "value": f"<{type(namespace[name]).__name__}: {e}>"[:_VALUE_LIMIT]}
    return {"format": FORMAT, "api": api, "missing": missing}


def main(argv: list[str] | None = None) -> None:
    """``python -m gilgamesh.registry.surface.live JOB.json``: run the import cells, print the surface.

    The job is ``{"cells": [[number, source], ...], "facts": {...}}`` (sources already rewritten
    from the ``@`` spelling). Prints ``{"surface": ...}`` or ``{"error": message, "cell": n}``.
    """
    import json

    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as f:
        job = json.load(f)
    module = types.ModuleType("__main__")
    sys.modules["__main__"] = module
    namespace = module.__dict__
    out: dict
    try:
        for number, source in job["cells"]:
            current = number
            # dont_inherit: the cells run as in the kernel, not under this module's ``from __future__ import annotations``
            code = compile(source, f"notebook-cell-{number}.py", "exec", dont_inherit=True)
            exec(code, namespace)  # noqa: S102 - sandboxed run of the notebook
        out = {"surface": describe(namespace, job["facts"])}
    except BaseException as e:  # noqa: BLE001 - report whatever the notebook raised
        out = {"error": f"{type(e).__name__}: {e}", "cell": locals().get("current")}
    sys.stdout.write(json.dumps(out))
    sys.stdout.flush()
    import os

    os._exit(0)


if __name__ == "__main__":
    main()

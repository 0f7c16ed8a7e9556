"""Arguments of a model call, checked against the endpoint's annotations before any model code runs.

The signature comes from the registry's stored snapshot (``endpoints`` of the index entry:
parameters with their annotation and default as source text), so checking needs neither the
module nor a worker. The annotations are read by the registry's endpoint type grammar
(:mod:`gilgamesh.registry.surface.types`), the same reading the publish check applies, so what
publish accepts is what the binder checks; the same parsed annotations give the JSON Schema of
the OpenAPI document and the fields of the web UI's try-it form.
"""

from __future__ import annotations

import json
from typing import Any

from gilgamesh.errors import BadArguments
from gilgamesh.service.calls.request_json import loads_request_json
from gilgamesh.registry.surface.types import NO_DEFAULT, Annotation, default_value, parse_annotation
from gilgamesh.registry.surface.http import request_schema
from gilgamesh.registry.surface.types import Mismatch as _Mismatch

__all__ = ["Binder", "ArgumentProblem", "Annotation", "parse_annotation", "default_value", "NO_DEFAULT"]


class ArgumentProblem:
    """One bad argument: which parameter (None for the body as a whole) and what is wrong."""

    __slots__ = ("parameter", "message")

    def __init__(self, parameter: str | None, message: str):
        self.parameter, self.message = parameter, message

    def to_dict(self) -> dict:
        return {"parameter": self.parameter, "message": self.message}

    def __str__(self) -> str:
        return self.message


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__  # pragma: no cover - JSON has no other types


class _Param:
    __slots__ = ("name", "kind", "annotation", "annotation_text", "required", "default_text")

    def __init__(self, spec: dict):
        self.name = spec["name"]
        self.kind = spec.get("kind", "positional_or_keyword")
        self.annotation_text = spec.get("annotation")
        self.annotation = parse_annotation(self.annotation_text)
        self.default_text = spec.get("default")
        self.required = self.default_text is None


class Binder:
    """Binds a JSON object of arguments to an endpoint's parameters, or names what is wrong."""

    def __init__(self, label: str, signature: dict):
        self.label = label
        self.signature = signature
        self.params = [_Param(p) for p in signature.get("params", [])
                       if p.get("kind") not in ("var_positional", "var_keyword")]
        self.by_name = {p.name: p for p in self.params}
        self.has_positional_only = any(p.kind == "positional_only" for p in self.params)
        self.returns = parse_annotation(signature.get("returns"))

    def bind(self, arguments: Any) -> tuple[list, dict, tuple]:
        """``(positional, keywords, array parameter names)`` for the worker; raise :class:`BadArguments`."""
        if type(arguments) is not dict:
            raise BadArguments(
                f"bad arguments to {self.label}: the body must be a JSON object of arguments, "
                f"got {_json_type(arguments)}",
                details=[ArgumentProblem(None, "the body must be a JSON object")],
            )
        problems = []
        keywords = {}
        arrays = []
        for name, value in arguments.items():
            param = self.by_name.get(name)
            if param is None:
                known = ", ".join(p.name for p in self.params) or "none"
                problems.append((name, f"unknown parameter {name!r} (parameters: {known})"))
                continue
            try:
                keywords[name] = param.annotation.check(value)
            except _Mismatch as e:
                problems.append((name, f"parameter {name!r}{' at ' + e.where if e.where else ''}: "
                                       f"expected {e.expected}, got {_json_type(e.got)}"))
                continue
            if param.annotation.is_array and value is not None:
                arrays.append(name)
        for param in self.params:
            if param.required and param.name not in arguments:
                problems.append((param.name, f"missing required parameter {param.name!r}"))
        positional: list = []
        if not problems and self.has_positional_only:
            positional, moved, problems = self._positional_only(keywords)
            arrays = [moved.index(a) if a in moved else a for a in arrays]
        if problems:
            raise BadArguments(
                f"bad arguments to {self.label}: " + "; ".join(m for _, m in problems),
                details=[ArgumentProblem(p, m) for p, m in problems],
            )
        return positional, keywords, tuple(arrays)

    def bind_body(self, data: bytes) -> tuple[list, dict, tuple]:
        """:meth:`bind` for a request body as it came (empty: no arguments); a body that is not
        JSON is a :class:`~gilgamesh.errors.UsageError`."""
        return self.bind(loads_request_json(data) if data.strip() else {})

    def _positional_only(self, keywords: dict) -> tuple[list, list, list]:
        """Move positional-only arguments out of ``keywords`` (they cannot be passed by name)."""
        only = [p for p in self.params if p.kind == "positional_only"]
        given = [p.name in keywords for p in only]
        if not any(given):
            return [], [], []
        last = max(i for i, g in enumerate(given) if g)
        gaps = [p.name for p, g in zip(only[:last], given[:last]) if not g]
        if gaps:
            return [], [], [(g, f"parameter {g!r} is positional-only: give it too, since "
                                f"{only[last].name!r} comes after it") for g in gaps]
        moved = [p.name for p in only[:last + 1]]
        return [keywords.pop(n) for n in moved], moved, []

    def request_schema(self) -> dict:
        """The JSON Schema of the request body: the HTTP surface's one definition
        (:func:`gilgamesh.registry.surface.http.request_schema`), which the semver rules compare."""
        return request_schema(self.signature)

    def form_fields(self) -> list[dict]:
        """What the try-it form shows for each parameter."""
        fields = []
        for p in self.params:
            default = default_value(p.default_text)
            fields.append({
                "name": p.name,
                "kind": p.annotation.form_kind(),
                "type": p.annotation.description,
                "annotation": p.annotation_text,
                "required": p.required,
                "default": None if default is NO_DEFAULT else json.dumps(default),
                "default_text": p.default_text,
            })
        return fields

"""The OpenAPI 3.1 document of every exposed model function.

One operation per endpoint and version line: ``POST /models/langmuir/1/analyze`` is
``langmuir@1`` (the highest ``1.*`` release), ``POST /models/plasma/0.3/debye_length`` is
``plasma@0.3`` (0.x has no compatibility promise, so each minor is its own line). Schemas come
from the annotations (:mod:`gilgamesh.service.arguments`), descriptions from the docstrings (or
the markdown cell above the function, as for ``help()``).
"""

from __future__ import annotations

import ast
import json
import threading

from gilgamesh.errors import GilgameshError
from gilgamesh.notebook import parse_notebook
from gilgamesh.pyparse import parse_python
from gilgamesh.spelling import rewrite_at_spelling
from gilgamesh.versions import Spec

from .arguments import Binder

__all__ = ["build_openapi", "version_lines", "function_docs", "ERROR_STATUSES"]

ERROR_STATUSES = {
    "400": "Bad arguments (the message names the parameter) or a malformed spec",
    "401": "A token is needed (private service)",
    "404": "No such API, version or endpoint",
    "413": "The request body is too large",
    "422": "The model raised; the message is its own",
    "500": "The model crashed its worker process",
    "504": "The model ran past its time limit",
}

_docs_cache: dict[str, dict[str, str]] = {}
_docs_lock = threading.Lock()


def version_lines(version_set) -> list[tuple[str, str]]:
    """``(line spec, latest release in it)`` for each line with a release that is not yanked."""
    lines: dict[str, None] = {}
    for v in version_set:
        if not v.is_prerelease:
            lines[str(v.major) if v.major else f"0.{v.minor}"] = None
    out = []
    for line in lines:
        try:
            out.append((line, version_set.resolve(Spec(line)).version))
        except GilgameshError:
            continue  # every release of this line is yanked
    return out


def function_docs(data: bytes, sha256: str) -> dict[str, str]:
    """Docstring (or the markdown cell above) of every top-level function of the import cells."""
    with _docs_lock:
        cached = _docs_cache.get(sha256)
    if cached is not None:
        return cached
    nb = parse_notebook(data)
    docs = {}
    for cell in nb.import_cells():
        try:
            tree = parse_python(rewrite_at_spelling(cell.source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                docs[node.name] = ast.get_docstring(node) or nb.markdown_above(cell.number) or ""
    with _docs_lock:
        _docs_cache[sha256] = docs
    return docs


def _error_schema() -> dict:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "message", "details"],
                "properties": {
                    "status": {"type": "integer"},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {}},
                },
            }
        },
    }


NON_FINITE_SCHEMA = {
    "type": "string",
    "enum": ["NaN", "Infinity", "-Infinity"],
    "description": "A non-finite float of a result, which JSON numbers cannot spell.",
}
_NUMBER_OR_NON_FINITE = {"anyOf": [{"type": "number"}, {"$ref": "#/components/schemas/NonFiniteNumber"}]}


def _non_finite_numbers(schema):
    """A result schema whose numbers may also be NaN or an infinity, spelled as a string."""
    if isinstance(schema, dict):
        if schema.get("type") == "number":
            return {**{k: v for k, v in schema.items() if k != "type"}, **_NUMBER_OR_NON_FINITE}
        return {k: _non_finite_numbers(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_non_finite_numbers(v) for v in schema]
    return schema


def _operation(name: str, line: str, version: str, function: str, signature: dict, doc: str) -> dict:
    binder = Binder(f"{name}@{version} {function}", signature)
    summary = doc.strip().splitlines()[0] if doc.strip() else f"{function} of {name}"
    result_schema = _non_finite_numbers(binder.returns.schema())
    return {
        "operationId": f"{name}_v{line.replace('.', '_')}_{function}",
        "tags": [name],
        "summary": summary[:200],
        "description": (doc.strip() + "\n\n" if doc.strip() else "")
        + f"Served by {name}@{version}, the latest release of {name}@{line}.",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": binder.request_schema()}},
        },
        "responses": {
            "200": {
                "description": f"The result of {function}",
                "headers": {
                    "Gilgamesh-Version": {
                        "description": "The exact version that served the call",
                        "schema": {"type": "string"},
                    }
                },
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["result", "name", "version"],
                    "properties": {
                        "result": result_schema,
                        "name": {"const": name},
                        "version": {"type": "string"},
                    },
                }}},
            },
            **{status: {"$ref": f"#/components/responses/Error{status}"} for status in ERROR_STATUSES},
        },
    }


def build_openapi(view, *, private: bool = False, title: str = "Gilgamesh models") -> dict:
    """The document for the registry behind ``view`` (a :class:`RegistryView`), now."""
    paths: dict[str, dict] = {}
    tags = []
    for name in view.names():
        try:
            index = view.api(name)
        except GilgameshError:
            continue
        described = False
        for line, version in version_lines(index.version_set):
            entry = index.versions[version]
            endpoints = entry.get("endpoints") or {}
            if not endpoints:
                continue
            try:
                docs = function_docs(view.notebook_bytes(name, version), entry["sha256"])
            except GilgameshError:
                docs = {}
            for function, signature in sorted(endpoints.items()):
                paths[f"/models/{name}/{line}/{function}"] = {
                    "post": _operation(name, line, version, function, signature, docs.get(function, "")),
                }
            if not described:
                tags.append({"name": name, "description": entry.get("summary", "")})
                described = True
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": "1",
            "description": "Every exposed function of the registry's API notebooks, one operation per "
                           "version line. Errors share one envelope: "
                           '{"error": {"status", "message", "details"}}. A result number that is not '
                           'finite is the string "NaN", "Infinity" or "-Infinity".',
        },
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": {"Error": _error_schema(), "NonFiniteNumber": NON_FINITE_SCHEMA},
            "responses": {
                f"Error{status}": {
                    "description": text,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
                for status, text in ERROR_STATUSES.items()
            },
        },
    }
    if private:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
    json.dumps(document)  # fail here, not in the handler, if anything is not JSON
    return document

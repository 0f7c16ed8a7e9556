"""The OpenAPI 3.1 document: every route of the service, and every exposed model function.

Model operations: one per endpoint and version line. ``POST /models/langmuir/1/analyze`` is
``langmuir@1`` (the highest ``1.*`` release), ``POST /models/plasma/0.3/debye_length`` is
``plasma@0.3`` (0.x has no compatibility promise, so each minor is its own line). Schemas come
from the annotations (:mod:`gilgamesh.service.calls.binder`), descriptions from the docstrings (or
the markdown cell above the function, as for ``help()``), each parameter's from its entry in the
docstring, unit included. The registry's own routes (list, resolve, publish, yank, deprecate,
dependents, the notebook bytes, the docs pages) are described once, with their answers' schemas.

The document is written for the standard generators (openapi-python-client, openapi-typescript)
to read without a warning: every array has ``items``, a numpy array is one fixed-depth array per
rank it may take, and every object schema has a type.
"""

from __future__ import annotations

import ast
import json
import threading

from gilgamesh.errors import GilgameshError
from gilgamesh.notebook import parse_notebook
from gilgamesh.pyparse import parse_python
from gilgamesh.spelling import rewrite_at_spelling
from gilgamesh.versions import NAME_PATTERN, SPEC_PATTERN, VERSION_PATTERN, Spec

from gilgamesh.service.calls.binder import Binder

__all__ = ["build_openapi", "version_lines", "function_docs", "ERROR_STATUSES", "NON_FINITE_SCHEMA"]

ERROR_STATUSES = {
    "400": "A malformed request: bad arguments (the message names the parameter), name or spec",
    "401": "A token is needed, or the one sent is not known",
    "403": "The token's user may not do this",
    "404": "No such API, version, endpoint or route",
    "409": "The version is published already, with other content",
    "413": "The request body is too large",
    "422": "The model raised (the message is its own), or the notebook was refused (details: the report)",
    "500": "The model crashed its worker process",
    "503": "Every model worker is busy and the queue is full, or the service is stopping: retry later",
    "504": "The model ran past its time limit",
}
_MODEL_ERRORS = ("400", "404", "413", "500", "503", "504")

NON_FINITE_SCHEMA = {
    "type": "string",
    "enum": ["NaN", "Infinity", "-Infinity"],
    "description": "A non-finite float of a result, which JSON numbers cannot spell.",
}
_NUMBER_OR_NON_FINITE = {"anyOf": [{"type": "number"}, {"$ref": "#/components/schemas/NonFiniteNumber"}]}

_HEADERS = {
    "Gilgamesh-Version": {
        "description": "The exact version that served the request",
        "required": True,
        "schema": {"type": "string"},
    },
    "Gilgamesh-Warning": {
        "description": "Why the version served deserves attention: yanked, deprecated, or outside the session lock",
        "schema": {"type": "string"},
    },
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
                docs[node.name] = ast.get_docstring(node) or nb.markdown_above(cell.number, node.name) or ""
    with _docs_lock:
        _docs_cache[sha256] = docs
    return docs


def _described(doc: str) -> tuple[str, dict[str, str], str]:
    """The docstring's summary and description (markdown), each parameter's description, the return's."""
    from gilgamesh.documentation.docstrings import parameter_descriptions, parse_docstring

    parsed = parse_docstring(doc)
    text = "\n\n".join(part for part in (parsed.summary, parsed.description) if part)
    returned = ""
    if parsed.returns:
        first = parsed.returns[0]
        returned = first.description + (f" [{first.unit}]" if first.unit else "")
    return text, parameter_descriptions(parsed), returned.strip()


# -- schemas ------------------------------------------------------------------------------------
def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _non_finite_numbers(schema):
    """A result schema whose numbers may also be NaN or an infinity, spelled as a string."""
    if isinstance(schema, dict):
        if schema.get("type") == "number":
            return {**{k: v for k, v in schema.items() if k != "type"}, **_NUMBER_OR_NON_FINITE}
        return {k: _non_finite_numbers(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_non_finite_numbers(v) for v in schema]
    return schema


_STRING, _NULLABLE_STRING = {"type": "string"}, {"type": ["string", "null"]}
_SPACE = r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # str.isspace()
# A yank reason or a deprecation message: more than white space (the server strips it), and no NUL
# (it is kept in a git commit message, which git cuts there).
_RECORD_TEXT = {"type": "string", "pattern": rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"}
# A BibTeX file's bytes, as a file upload: text/plain would say UTF-8, but openapi-python-client
# leaves out an operation with such a body. That the bytes are UTF-8 is the file's content, refused
# with its parse problems (422), as a notebook's is.
_BIBTEX = {"type": "string", "format": "binary", "minLength": 1, "contentMediaType": "application/x-bibtex",
           "description": "A BibTeX file, UTF-8 (a byte-order mark is dropped)"}
_SIGNATURE = {
    "type": "object",
    "description": "An endpoint's signature as the notebook wrote it",
    "properties": {
        "params": {"type": "array", "items": {
            "type": "object", "required": ["name", "kind"],
            "properties": {"name": _STRING, "kind": _STRING, "annotation": _NULLABLE_STRING,
                           "default": _NULLABLE_STRING}}},
        "returns": _NULLABLE_STRING,
    },
}
_VERSION_ENTRY = {
    "type": "object",
    "description": "One published version as the registry's index records it (more fields may follow)",
    "required": ["sha256", "yanked"],
    "properties": {
        "version": _STRING,
        "sha256": _STRING,
        "summary": _STRING,
        "yanked": {"type": "boolean"},
        "yank_reason": _NULLABLE_STRING,
        "published_at": _NULLABLE_STRING,
        "publisher": _NULLABLE_STRING,
        "deprecated": {"type": "boolean"},
        "deprecation_message": _NULLABLE_STRING,
        "endpoints": {"type": "object", "additionalProperties": _ref("Signature")},
        "dependencies": {"type": "object", "additionalProperties": _STRING},
        "references": {"type": "object", "description": "The bibliography entries its markdown cites, by key",
                       "additionalProperties": _ref("Reference")},
    },
}
# What publishing refuses before it reads any code (the report's "structure" and "metadata"
# checks, nbformat 4's schema among them): a body outside this schema is never published. Nothing
# here is stricter than the server; what only running the notebook can tell is a 422 with the report.
_LINE = rf"^[{_SPACE}]*[^{_SPACE}](?:[^\n]*[^{_SPACE}])?[{_SPACE}]*$"  # one line once stripped
_SOURCE = {"anyOf": [_STRING, {"type": "array", "items": _STRING}], "description": "A string, or its lines"}
_CELL_ID = {"type": "string", "pattern": "^[a-zA-Z0-9-_]+$", "minLength": 1, "maxLength": 64}


def _cell(kind: str, **required: dict) -> dict:
    """An nbformat 4 cell of ``kind``: cell_type, metadata, source and the ``required`` fields; an id
    and (but in a code cell) attachments optional."""
    optional = {"id": _CELL_ID} if kind == "code" else {"id": _CELL_ID, "attachments": {"type": "object"}}
    return {"type": "object", "required": ["cell_type", "metadata", "source", *required], "additionalProperties": False,
            "properties": {"cell_type": {"type": "string", "const": kind}, "metadata": {"type": "object"},
                           "source": _SOURCE, **optional, **required}}


_GILGAMESH_METADATA = {
    "type": "object", "required": ["name", "version", "summary"], "additionalProperties": False,
    "description": "What the registry publishes the notebook as (docs/guide.md, section 2)",
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN},
        "version": {"type": "string", "pattern": VERSION_PATTERN},
        "summary": {"type": "string", "pattern": _LINE, "description": "One line"},
        "endpoints": {"type": "array", "items": _STRING, "description": "The functions served over HTTP"},
        "authors": {"type": "array", "items": _STRING},
        "tolerance": {"type": ["number", "null"], "minimum": 0, "exclusiveMaximum": 1},
        "sanitize": {"type": ["array", "null"], "items": {
            "type": "object", "required": ["regex"], "additionalProperties": False,
            "properties": {"regex": _STRING, "replace": _STRING}}},
        "changed": {"type": "object", "additionalProperties": {"type": "string", "pattern": f"[^{_SPACE}]"},
                    "description": "Each function whose results changed on purpose, with the reason"},
    },
}
_NOTEBOOK = {
    "type": "object", "description": "An nbformat 4 notebook whose metadata.gilgamesh names the version",
    "required": ["nbformat", "nbformat_minor", "metadata", "cells"], "additionalProperties": False,
    "properties": {
        "nbformat": {"type": "integer", "const": 4},
        "nbformat_minor": {"type": "integer", "minimum": 0},
        "metadata": {"type": "object", "required": ["gilgamesh"], "properties": {
            "gilgamesh": _ref("GilgameshMetadata"),
            "kernelspec": {"type": "object", "required": ["name", "display_name"],
                           "properties": {"name": _STRING, "display_name": _STRING}},
            "language_info": {"type": "object", "required": ["name"], "properties": {"name": _STRING}}}},
        "cells": {"type": "array", "items": {"oneOf": [
            _cell("markdown"),
            _cell("code", outputs={"type": "array", "items": {
                      "type": "object", "required": ["output_type"], "properties": {"output_type": {
                          "type": "string", "enum": ["execute_result", "display_data", "stream", "error"]}}}},
                  execution_count={"type": ["integer", "null"], "minimum": 0}),
            _cell("raw"),
        ]}},
    },
}
_SCHEMAS = {
    "Reference": {
        "type": "object", "required": ["label", "text"],
        "properties": {"label": {"type": "string", "description": "How a citation shows it: Chen 2016"},
                       "text": {"type": "string", "description": "Authors (year). Title. Where."},
                       "url": {**_NULLABLE_STRING, "description": "Its DOI or URL"}},
    },
    "BibliographyEntry": {
        "type": "object", "required": ["key", "type", "fields", "label", "text", "bibtex"],
        "properties": {"key": _STRING, "type": {"type": "string", "description": "article, book, ..."},
                       "fields": {"type": "object", "additionalProperties": _STRING},
                       "label": _STRING, "text": _STRING, "url": _NULLABLE_STRING,
                       "bibtex": {"type": "string", "description": "The entry as written"}},
    },
    "Bibliography": {"type": "object", "required": ["entries"],
                     "properties": {"entries": {"type": "array", "items": _ref("BibliographyEntry")}}},
    "BibliographyChange": {
        "type": "object", "required": ["added", "replaced", "unchanged", "entries"],
        "properties": {"added": {"type": "array", "items": _STRING}, "replaced": {"type": "array", "items": _STRING},
                       "unchanged": {"type": "array", "items": _STRING},
                       "entries": {"type": "integer", "description": "How many the bibliography holds now"}},
    },
    "Citation": {
        "type": "object", "required": ["name", "version", "key", "bibtex"],
        "properties": {"name": _STRING, "version": _STRING, "key": _STRING,
                       "bibtex": {"type": "string", "description": "A @software entry that cites this version"}},
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["status", "message", "details"],
            "properties": {
                "status": {"type": "integer"},
                "message": _STRING,
                "details": {"type": "array", "items": {
                    "description": "A line of text (a traceback), a problem of a publish report "
                                   "({check, message, cell}) or a bad argument ({parameter, message})"}},
            },
        }},
    },
    "NonFiniteNumber": NON_FINITE_SCHEMA,
    "Signature": _SIGNATURE,
    "VersionEntry": _VERSION_ENTRY,
    "ApiSummary": {
        "type": "object", "required": ["name", "summary", "latest", "versions"],
        "properties": {"name": _STRING, "summary": _STRING, "latest": _NULLABLE_STRING,
                       "versions": {"type": "array", "items": _STRING}},
    },
    "Listing": {"type": "object", "required": ["notebooks"],
                "properties": {"notebooks": {"type": "array", "items": _ref("ApiSummary")}}},
    "ApiVersions": {
        "type": "object", "required": ["name", "latest", "versions"],
        "properties": {"name": _STRING, "latest": _NULLABLE_STRING,
                       "versions": {"type": "array", "items": _ref("VersionEntry")}},
    },
    "ResolvedVersion": {
        "type": "object",
        "description": "The version a spec chose, as 'gilgamesh resolve --json' prints it",
        "required": ["name", "spec", "version", "sha256", "summary", "yanked", "endpoints", "dependencies"],
        "properties": {**_VERSION_ENTRY["properties"], "name": _STRING,
                       "spec": {"type": "string", "description": "The spec as asked"},
                       "version": {"type": "string", "description": "The exact version chosen"},
                       "warning": _NULLABLE_STRING,
                       "environment": {"type": ["object", "null"], "description": "The recorded environment"},
                       "changed": {"type": "object", "description": "The functions whose behaviour changed in this "
                                   "version, each with the reason given", "additionalProperties": {"type": "object"}}},
    },
    "ChangedVersion": {
        "type": "object", "required": ["name"],
        "description": "The version's index entry after the change (a yank also names the dependents warned)",
        "properties": {**_VERSION_ENTRY["properties"], "name": _STRING},
    },
    "Dependents": {
        "type": "object", "required": ["name", "spec", "versions", "dependents"],
        "description": "The published versions that depend on the versions a spec chooses",
        "properties": {
            "name": _STRING, "spec": _STRING, "versions": {"type": "array", "items": _STRING},
            "dependents": {"type": "array", "items": {"type": "object", "required": ["name", "version"], "properties": {
                "name": _STRING, "version": _STRING, "depends_on": _STRING}}}},
    },
    "PublishOutcome": {
        "type": "object", "required": ["name", "version", "sha256", "created", "dry_run"],
        "description": "What publish did (or, with dry_run, would do)",
        "properties": {"name": _STRING, "version": _STRING, "sha256": _STRING, "created": {"type": "boolean"},
                       "dry_run": {"type": "boolean"}, "warnings": {"type": "array", "items": _STRING},
                       "notes": {"type": "array", "items": _STRING, "description":
                                 "What the report notes without refusing: a function documented by the markdown "
                                 "cell above it, a public-looking definition that __all__ leaves out"},
                       "dependencies": {"type": "object", "additionalProperties": _STRING},
                       "validation": {"description": "The validation run's summary, when one ran"}},
    },
    "Health": {"type": "object", "required": ["status"],
               "properties": {"status": _STRING, "pid": {"type": "integer"}, "workers": {"type": "integer"}}},
    "Reason": {"type": "object", "required": ["reason"], "properties": {"reason": {
        **_RECORD_TEXT, "description": "Why the version is withdrawn"}}},
    "DeprecationMessage": {"type": "object", "required": ["message"], "properties": {"message": {
        **_RECORD_TEXT, "description": "What to use instead"}}},
    "Notebook": _NOTEBOOK,
    "GilgameshMetadata": _GILGAMESH_METADATA,
}


def _error(description: str) -> dict:
    """An error answer in the one envelope; ``description`` says what it means here."""
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _errors(*statuses: str, own: dict[str, str] | None = None) -> dict:
    """The error answers an operation gives: the shared ones by reference, and those whose
    meaning is the operation's own (``own``: status -> what it means) described in place."""
    answers = {status: {"$ref": f"#/components/responses/Error{status}"} for status in statuses}
    answers.update({status: _error(text) for status, text in (own or {}).items()})
    return dict(sorted(answers.items()))


def _json(schema: dict, description: str, headers: dict | None = None) -> dict:
    answer = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


# -- operations ---------------------------------------------------------------------------------
def _model_operation(name: str, line: str, version: str, function: str, signature: dict, doc: str) -> dict:
    binder = Binder(f"{name}@{version} {function}", signature)
    text, described, returned = _described(doc) if doc.strip() else ("", {}, "")
    summary = text.splitlines()[0] if text else f"{function} of {name}"
    request = binder.request_schema()
    for param, schema in request["properties"].items():
        if param in described:
            schema["description"] = described[param]
    result = _non_finite_numbers(binder.returns.schema())
    if returned:
        result["description"] = returned
    return {
        "operationId": f"{name}_v{line.replace('.', '_')}_{function}",
        "tags": [name],
        "summary": summary[:200],
        "description": (text + "\n\n" if text else "") + f"Served by {name}@{version}, the latest release of {name}@{line}.",
        # No body is no arguments: it is needed only when a parameter has no default.
        "requestBody": {"required": bool(request.get("required")), "content": {"application/json": {"schema": request}}},
        "responses": {
            "200": _json({
                "type": "object",
                "required": ["result", "name", "version"],
                "properties": {"result": result, "name": {"type": "string", "const": name}, "version": _STRING},
            }, f"The result of {function}", _HEADERS),
            **_errors(*_MODEL_ERRORS, own={"422": f"{function} raised: the message is the model's own, the details "
                                                  "its traceback (the arguments fitted the schema)"}),
        },
    }


def _path_parameter(name: str, description: str, pattern: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "pattern": pattern}}


# The grammar of gilgamesh.versions, which the server checks (400) before it looks anything up.
_NAME = _path_parameter("name", "The API's name (not a Python keyword)", NAME_PATTERN)
_SPEC = _path_parameter("spec", "A version spec: an exact version (1.2.0), a line (1, 1.2; 0.x lines are 0.Y)",
                        SPEC_PATTERN)
_VERSION = _path_parameter("version", "An exact published version", VERSION_PATTERN)


def _flag(name: str, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "boolean", "default": False}}


def _registry_paths() -> dict:
    registry = ["registry"]
    version_headers = {"Gilgamesh-Version": _HEADERS["Gilgamesh-Version"]}
    notebook = {"schema": _ref("Notebook")}

    def change(op_id: str, summary: str, body: str | None, description: str) -> dict:
        op = {
            "operationId": op_id, "tags": registry, "summary": summary, "description": description,
            "parameters": [_NAME, _VERSION],
            "responses": {"200": _json(_ref("ChangedVersion"), "The version after the change"),
                          **_errors("400", "401", "403", "404", "413")},
        }
        if body:  # a JSON object; other fields are ignored
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
        return op

    return {
        "/api/notebooks": {
            "get": {"operationId": "list_notebooks", "tags": registry, "summary": "Every API of the registry",
                    "responses": {"200": _json(_ref("Listing"), "Name, summary, latest release and versions of each API")}},
            "post": {
                "operationId": "publish_notebook", "tags": registry, "summary": "Publish a notebook",
                "description": "The body is the .ipynb file's bytes. Needs a token allowed to publish, except "
                               "with dry_run on an open service (validation only: nothing is stored).",
                "parameters": [_flag("dry_run", "Validate only: run every check, store nothing")],
                "requestBody": {"required": True, "content": {"application/x-ipynb+json": notebook}},
                "responses": {
                    "201": _json(_ref("PublishOutcome"), "Published"),
                    "200": _json(_ref("PublishOutcome"), "Published already with these bytes, or validated (dry_run)"),
                    **_errors("400", "401", "403", "409", "413", own={
                        "422": "The notebook was refused: details are the report, each problem {check, message, "
                               "cell}; what its code does (validation, semver, documentation, endpoints) is only "
                               "known by running it"}),
                },
            },
        },
        "/api/notebooks/{name}": {"get": {
            "operationId": "get_api", "tags": registry, "summary": "An API's versions", "parameters": [_NAME],
            "responses": {"200": _json(_ref("ApiVersions"), "Every version: sha256, yanked (and why), published_at"),
                          **_errors("400", "404")}}},
        "/api/notebooks/{name}/{spec}": {"get": {
            "operationId": "resolve_version", "tags": registry, "summary": "The version a spec resolves to",
            "parameters": [_NAME, _SPEC],
            "responses": {"200": _json(_ref("ResolvedVersion"), "The resolved version, its endpoints and dependencies",
                                       version_headers),
                          **_errors("400", "404")}}},
        "/api/notebooks/{name}/{spec}/notebook": {"get": {
            "operationId": "get_notebook", "tags": registry, "summary": "The notebook's bytes (ETag: its sha256)",
            "parameters": [_NAME, _SPEC],
            "responses": {"200": {"description": "The .ipynb file", "headers": {
                **version_headers, "ETag": {"description": "The sha256 of the bytes, quoted", "schema": _STRING}},
                "content": {"application/x-ipynb+json": notebook}},
                "304": {"description": "Not modified (If-None-Match matched the ETag)"},
                **_errors("400", "404")}}},
        "/api/notebooks/{name}/{spec}/dependents": {"get": {
            "operationId": "get_dependents", "tags": registry, "summary": "The published versions that depend on it",
            "parameters": [_NAME, _SPEC],
            "responses": {"200": _json(_ref("Dependents"), "The dependents"), **_errors("400", "404")}}},
        "/api/notebooks/{name}/{version}/yank": {
            "post": change("yank_version", "Yank a version", "Reason",
                           "Exact specs still resolve to it, with a warning; ranges skip it. Needs a token."),
            "delete": change("unyank_version", "Undo a yank", None, "Needs a token."),
        },
        "/api/notebooks/{name}/{version}/deprecate": {
            "post": change("deprecate_version", "Deprecate a version", "DeprecationMessage",
                           "It stays importable and callable, with a warning. Needs a token."),
            "delete": change("undeprecate_version", "Undo a deprecation", None, "Needs a token."),
        },
        "/api/notebooks/{name}/{spec}/citation": {"get": {
            "operationId": "get_citation", "tags": registry, "summary": "A BibTeX entry that cites the version",
            "parameters": [_NAME, _SPEC, {"name": "format", "in": "query", "required": False,
                                          "schema": {"type": "string", "enum": ["json", "bibtex"], "default": "json"},
                                          "description": "bibtex: the entry itself as application/x-bibtex"}],
            "responses": {"200": {"description": "The entry", "headers": version_headers, "content": {
                "application/json": {"schema": _ref("Citation")},
                "application/x-bibtex": {"schema": _STRING}}}, **_errors("400", "404")}}},
        "/bibliography": {
            "get": {"operationId": "get_bibliography", "tags": registry, "summary": "The registry's bibliography",
                    "description": "The BibTeX entries notebooks cite with \\cite{key}; a browser gets a page.",
                    "responses": {"200": _json(_ref("Bibliography"), "Every entry, by key")}},
            "post": {"operationId": "add_bibliography", "tags": registry, "summary": "Add BibTeX entries",
                     "description": "The body is a BibTeX file. A key already there keeps its entry unless "
                                    "replace is set. Needs a token allowed to publish.",
                     "parameters": [_flag("replace", "Replace entries whose key exists")],
                     "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": _BIBTEX}}},
                     "responses": {"200": _json(_ref("BibliographyChange"), "What was added"),
                                   **_errors("400", "401", "403", "413", own={
                                       "422": "The BibTeX was refused: details name what is not UTF-8 text, each "
                                              "block that does not parse, each duplicate key and each key that "
                                              "cannot be cited"})}},
        },
        "/docs/{name}/{spec}": {"get": {
            "operationId": "docs_page", "tags": ["pages"], "summary": "The notebook rendered as a page",
            "parameters": [_NAME, _SPEC],
            "responses": {"200": {"description": "Sanitized HTML: equations and figures, works offline",
                                  "headers": version_headers,
                                  "content": {"text/html": {"schema": _STRING}}},
                          **_errors("400", "404", own={"422": "The notebook cannot be rendered as a page (its bytes "
                                                              "are still served)"})}}},
        "/": {"get": {"operationId": "index_page", "tags": ["pages"], "summary": "The web UI",
                      "responses": {"200": {"description": "The APIs, with links to their versions and docs",
                                            "content": {"text/html": {"schema": _STRING}}}}}},
        "/healthz": {"get": {"operationId": "health", "tags": ["service"], "summary": "Liveness",
                             "security": [], "responses": {"200": _json(_ref("Health"), "The service is up")}}},
        "/openapi.json": {"get": {"operationId": "openapi_document", "tags": ["service"], "summary": "This document",
                                  "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}}},
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
                    "post": _model_operation(name, line, version, function, signature, docs.get(function, "")),
                }
            if not described:
                tags.append({"name": name, "description": entry.get("summary", "")})
                described = True
    paths.update(_registry_paths())
    tags += [{"name": "registry", "description": "List, resolve, fetch, publish, yank and deprecate versions"},
             {"name": "pages", "description": "HTML for browsers"},
             {"name": "service", "description": "The service itself"}]
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": "1",
            "description": "Every exposed function of the registry's API notebooks, one operation per version "
                           "line, and the registry's routes. Errors share one envelope: "
                           '{"error": {"status", "message", "details"}}. A result number that is not finite '
                           'is the string "NaN", "Infinity" or "-Infinity" (NonFiniteNumber). Model calls answer '
                           "with the Gilgamesh-Version header, and Gilgamesh-Warning when the version served is "
                           "yanked or deprecated. A 503 carries Retry-After.",
        },
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": _SCHEMAS,
            "responses": {
                f"Error{status}": {
                    **_error(text),
                    **({"headers": {"Retry-After": {"description": "Seconds to wait before retrying",
                                                    "schema": {"type": "integer"}}}} if status == "503" else {}),
                }
                for status, text in ERROR_STATUSES.items()
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A token from 'gilgamesh token create USER'"}},
        },
    }
    writes = [op for p in paths.values() for m, op in p.items()
              if m in ("post", "delete") and op.get("tags") == ["registry"]]
    for op in writes:
        # A dry run on an open service needs no token: validating stores nothing.
        op["security"] = [{"bearer": []}, {}] if op["operationId"] == "publish_notebook" and not private else [{"bearer": []}]
    if private:
        document["security"] = [{"bearer": []}]
        for op in (op for p in paths.values() for op in p.values() if op.get("security") != []):
            op["responses"] = dict(sorted({**op["responses"], **_errors("401")}.items()))  # reads need a token too
    json.dumps(document)  # fail here, not in the handler, if anything is not JSON
    return json.loads(json.dumps(document))  # no shared sub-objects: a caller may change its copy

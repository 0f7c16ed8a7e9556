"""The HTTP surface of a version: its endpoints' routes and JSON schemas, as the service serves them.

Callers that are not Python reach a version through ``POST /models/{name}/{spec}/{function}``
(README, Over HTTP). What they rely on is the list of endpoints (``metadata.gilgamesh.endpoints``)
and, for each, the JSON Schema of the request body (an object: its ``properties``, ``required``,
no other property) and of the result. Both are derived from one place:

* the *signatures* of a version's endpoints, ``{function: {"params", "returns"}}``, are what the
  publish stores in the version's metadata and index entry (:func:`endpoint_signatures`, from the
  public surface of :mod:`gilgamesh.registry.surface.snapshot`); the service's argument binder,
  its OpenAPI document and the web UI all read that stored entry;
* the *schemas* come from the endpoint type grammar (:mod:`gilgamesh.registry.surface.types`):
  :func:`request_schema` is the request body the binder checks and ``/openapi.json`` declares
  (the binder's own ``request_schema`` is this function), :func:`result_schema` the result's.

So the surface compared by the semver rules (:mod:`gilgamesh.registry.compat.semver`, its HTTP
section) is the one the service enforces: for a published version, the signatures of its index
entry (:func:`published_signatures`); for a new version or a working copy, what its publish would
store (:func:`endpoint_signatures` over its metadata and snapshot).

:func:`schema_within` says whether every JSON value one schema allows is allowed by another, over
the schemas the grammar writes (scalars, arrays, objects, ``anyOf``, numpy arrays of a rank):
``integer`` is within ``number``, ``true`` is not within ``integer`` (the binder refuses a boolean
where a number is expected, whatever Python's numeric tower says), and annotations of a schema
(``description``, ``default``) do not count.
"""

from __future__ import annotations

from typing import NamedTuple

from gilgamesh.versions import Version

from gilgamesh.registry.surface.types import NO_DEFAULT, default_value, parse_annotation

__all__ = ["HttpEndpoint", "endpoint_signatures", "published_signatures", "http_surface", "request_schema",
           "result_schema", "schema_within", "route", "route_spec"]

_VARIADIC = ("var_positional", "var_keyword")
_NOTES = ("description", "default", "title", "examples")  # what a schema says about a value, not which values


class HttpEndpoint(NamedTuple):
    """One endpoint of one version: its route and the JSON Schemas of its request and result."""

    function: str
    route: str  # /models/{name}/{spec}/{function}: the spec its callers use (a version line)
    params: dict  # the JSON Schema of the request body (the binder's and /openapi.json's)
    result: dict  # the JSON Schema of the result (before non-finite numbers are spelled out)
    signature: dict  # {"params": [...], "returns": ...}, as stored with the version


# -- the signatures ------------------------------------------------------------------------------

def endpoint_signatures(names, snapshot: dict) -> dict[str, dict]:
    """``{function: {"params", "returns"}}`` of the endpoints ``names`` (``metadata.gilgamesh.endpoints``)
    as the publish stores them, from the public surface ``snapshot``.

    A name that is no function with a readable signature is left out: it has no route (check 5 of
    the publish refuses it, naming it).
    """
    if not isinstance(names, list):
        return {}
    out = {}
    for name in names:
        entry = snapshot.get(name) if isinstance(name, str) else None
        if not isinstance(entry, dict) or entry.get("kind") != "function" or entry.get("params") is None:
            continue
        out[name] = {"params": entry["params"], "returns": entry.get("returns")}
    return out


def published_signatures(entry: dict) -> dict[str, dict]:
    """The endpoints' signatures of a published version: its index entry's (or metadata's)
    ``endpoints``, exactly what the service binds calls against."""
    endpoints = entry.get("endpoints") or {}
    if isinstance(endpoints, list):  # a bare list of names: the signatures are in its snapshot
        return endpoint_signatures(endpoints, entry.get("api") or {})
    return {fn: sig for fn, sig in endpoints.items() if isinstance(sig, dict)}


# -- the schemas ---------------------------------------------------------------------------------

def _params(signature: dict) -> list[dict]:
    return [p for p in signature.get("params") or [] if p.get("kind") not in _VARIADIC]


def request_schema(signature: dict) -> dict:
    """The JSON Schema of an endpoint's request body: one property per parameter (its default
    noted where it is a JSON literal), ``required`` those without a default, nothing else allowed."""
    properties = {}
    params = _params(signature)
    for p in params:
        schema = dict(parse_annotation(p.get("annotation")).schema())
        default = default_value(p.get("default"))
        if default is not NO_DEFAULT:
            schema["default"] = default
        properties[p["name"]] = schema
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [p["name"] for p in params if p.get("default") is None]
    if required:
        schema["required"] = required
    return schema


def result_schema(signature: dict) -> dict:
    """The JSON Schema of an endpoint's result."""
    return parse_annotation(signature.get("returns")).schema()


# -- routes --------------------------------------------------------------------------------------

def route_spec(version: str) -> str:
    """The spec HTTP callers of ``version`` use: its line (``1`` for 1.x, ``0.3`` for 0.3.x, as
    /openapi.json lists them); a pre-release, which no line chooses, by its exact version."""
    v = Version(version)
    if v.is_prerelease:
        return v.text
    return str(v.major) if v.major else f"0.{v.minor}"


def route(name: str, version: str, function: str) -> str:
    return f"/models/{name}/{route_spec(version)}/{function}"


def http_surface(name: str, version: str, signatures: dict[str, dict]) -> dict[str, HttpEndpoint]:
    """``{function: HttpEndpoint}``: the HTTP surface of ``name@version`` with these endpoint signatures."""
    return {fn: HttpEndpoint(fn, route(name, version, fn), request_schema(sig), result_schema(sig), sig)
            for fn, sig in sorted(signatures.items())}


# -- comparing schemas ---------------------------------------------------------------------------

def _bare(schema: dict) -> dict:
    return {k: v for k, v in schema.items() if k not in _NOTES}


def _options(schema) -> list[dict]:
    """A schema as the alternatives it allows (``anyOf`` flattened, a list of types split)."""
    if schema is True or schema is None:
        return [{}]
    if schema is False:
        return []
    schema = _bare(schema)
    if set(schema) == {"anyOf"}:
        return [o for member in schema["anyOf"] for o in _options(member)]
    kind = schema.get("type")
    if isinstance(kind, list):
        return [{**schema, "type": k} for k in kind]
    return [schema]


def schema_within(narrow, wide) -> bool:
    """True if every JSON value ``narrow`` allows, ``wide`` allows too ({} allows anything)."""
    wide_options = _options(wide)
    if {} in wide_options:
        return True
    return all(any(_option_within(n, w) for w in wide_options) for n in _options(narrow))


def _option_within(narrow: dict, wide: dict) -> bool:
    if not narrow:
        return False  # anything, where ``wide`` allows less
    kind, wide_kind = narrow.get("type"), wide.get("type")
    if kind is None or wide_kind is None:
        return narrow == wide
    if kind != wide_kind and not (kind == "integer" and wide_kind == "number"):
        return False
    if kind == "array":
        return schema_within(narrow.get("items", {}), wide.get("items", {}))
    if kind == "object":
        return _object_within(narrow, wide)
    return True


def _object_within(narrow: dict, wide: dict) -> bool:
    n_props, w_props = narrow.get("properties", {}), wide.get("properties", {})
    n_extra, w_extra = narrow.get("additionalProperties", {}), wide.get("additionalProperties", {})
    if not set(wide.get("required", [])) <= set(narrow.get("required", [])):
        return False
    for prop, schema in n_props.items():
        if not schema_within(schema, w_props.get(prop, w_extra)):
            return False
    if n_extra is not False:
        if any(not schema_within(n_extra, s) for p, s in w_props.items() if p not in n_props):
            return False
        if not schema_within(n_extra, w_extra):
            return False
    return True

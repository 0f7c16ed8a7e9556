"""``GET /openapi.json``: OpenAPI 3.1, valid, one operation per exposed function and version line."""

from __future__ import annotations

import pytest
from service_kit import http
from openapi_spec_validator import validate


@pytest.fixture(scope="module")
def document(server):
    r = http("GET", server.url + "/openapi.json")
    assert r.status == 200
    return r.json()


def test_it_passes_the_validator(document):
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema


def test_one_operation_per_function_and_line(document):
    paths = document["paths"]
    geo_1 = {p for p in paths if p.startswith("/models/geo/1/")}
    assert len(geo_1) == 11 and "/models/geo/1/cube" in geo_1
    # 2.0.0rc1 is a pre-release: no line of its own; 0.x lines are per minor.
    assert not any(p.startswith("/models/geo/2/") for p in paths)
    assert {"/models/plain/0.1/twice", "/models/plain/0.2/twice"} <= set(paths)
    ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_schemas_and_docs_come_from_the_notebook(document):
    op = document["paths"]["/models/geo/1/greet"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["name"]
    assert schema["properties"]["name"] == {"type": "string"}
    assert schema["properties"]["loud"] == {"type": "boolean", "default": False}
    assert schema["properties"]["tags"] == {
        "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}], "default": None}
    assert schema["additionalProperties"] is False
    assert op["summary"] == "A greeting, optionally loud and tagged."
    assert "geo@1.1.0" in op["description"]
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["properties"]["result"] == {"type": "string"}
    assert set(op["responses"]) >= {"200", "400", "404", "422", "500", "504"}
    # A function without a docstring takes the markdown cell above it.
    assert document["paths"]["/models/geo/1/scale"]["post"]["summary"] == "Scale a length by a factor."
    stats = document["paths"]["/models/geo/1/stats"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    # A numpy array of no stated rank: one fixed-depth array of numbers per rank from 1 to 4.
    values = stats["properties"]["values"]
    assert [option["type"] for option in values["anyOf"]] == ["array"] * 4
    assert values["anyOf"][1] == {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}
    assert "every row the same length" in values["description"]
    assert "Mean and standard deviation" in document["paths"]["/models/geo/1/stats"]["post"]["description"]


def test_it_follows_new_versions(server, tmp_path):
    """The document is rebuilt when an index changes (here: the yank list of the seeded registry)."""
    from gilgamesh.registry.store.git_store import Store, writer_lock

    before = http("GET", server.url + "/openapi.json").json()
    assert "/models/plain/0.2/twice" in before["paths"]
    with writer_lock(server.root):
        Store(server.root).set_yanked("plain", "0.2.0", "test", "t")
    try:
        after = http("GET", server.url + "/openapi.json").json()
        assert "/models/plain/0.2/twice" not in after["paths"]
        assert "/models/plain/0.1/twice" in after["paths"]
    finally:
        with writer_lock(server.root):
            Store(server.root).set_yanked("plain", "0.2.0", None, "t")
    assert "/models/plain/0.2/twice" in http("GET", server.url + "/openapi.json").json()["paths"]


def test_requests_are_declared_as_the_server_checks_them(document, server):
    """The grammar's patterns, a body only where one is needed, and each 422 saying what it means
    there (tests/reliability/test_schemathesis.py holds the server to every declaration)."""
    from gilgamesh.service.openapi import build_openapi
    from gilgamesh.versions import NAME_PATTERN, SPEC_PATTERN, VERSION_PATTERN

    paths = document["paths"]
    yank = paths["/api/notebooks/{name}/{version}/yank"]["post"]
    assert {p["name"]: p["schema"]["pattern"] for p in yank["parameters"]} == {"name": NAME_PATTERN,
                                                                               "version": VERSION_PATTERN}
    assert paths["/api/notebooks/{name}/{spec}"]["get"]["parameters"][1]["schema"]["pattern"] == SPEC_PATTERN
    assert paths["/models/geo/1/greet"]["post"]["requestBody"]["required"] is True
    assert paths["/models/geo/1/whoami"]["post"]["requestBody"]["required"] is False  # no body, no arguments
    assert "raised" in paths["/models/geo/1/fail"]["post"]["responses"]["422"]["description"]
    publish = paths["/api/notebooks"]["post"]
    assert publish["requestBody"]["content"] == {"application/x-ipynb+json": {"schema": {"$ref": "#/components/schemas/Notebook"}}}
    assert "report" in publish["responses"]["422"]["description"]
    notebook = document["components"]["schemas"]["Notebook"]
    assert notebook["properties"]["nbformat"]["const"] == 4 and "cells" in notebook["required"]
    assert document["components"]["schemas"]["GilgameshMetadata"]["required"] == ["name", "version", "summary"]
    bibtex = paths["/bibliography"]["post"]["requestBody"]["content"]["application/octet-stream"]["schema"]
    assert bibtex["format"] == "binary" and bibtex["minLength"] == 1
    # A private service asks a token of every read but /healthz.
    private = build_openapi(server.ctx.view, private=True)
    for path, ops in private["paths"].items():
        for method, op in ops.items():
            assert ("401" in op["responses"]) == (path != "/healthz"), (method, path)
    validate(private)

"""Step 3 for callers that are not Python: the HTTP surface is part of the compatibility promise.

The endpoints (``metadata.gilgamesh.endpoints``) and each one's JSON Schema, of the request body
and of the result, as the service's binder enforces them and /openapi.json declares them. Each
pair below is published for real (validation, step 7, off): the new version is refused when it
is bumped too little, the report naming the route and the bump needed, and accepted when bumped
right; ``gilgamesh diff --json`` lists the same changes with ``"surface": "http"`` and the route.
"""

from __future__ import annotations

import json

import pytest

import nbfactory as f
from gilgamesh.errors import PublishRefused
from gilgamesh.registry.compat.semver import diff_http_surface, required_bump
from gilgamesh.registry.publish.pipeline import publish
from gilgamesh.registry.store.reader import LocalReader
from gilgamesh.registry.surface.http import (endpoint_signatures, http_surface, published_signatures, request_schema,
                                             result_schema, route, schema_within)
from gilgamesh.registry.surface.types import parse_annotation
from support import run_cli

SCALE = 'def scale(x: float, factor: float = 2.0) -> float:\n    """Scale x."""\n    return x * factor\n'
AREA = 'def area(s: float) -> float:\n    """The area of a square."""\n    return s * s\n'


def api(version: str, source: str = SCALE + AREA, endpoints=("scale", "area"), name: str = "demo") -> bytes:
    """An API notebook whose import cell is ``source``, serving ``endpoints``."""
    cells = [f.markdown(f"# {name}"), f.markdown("The public API below."), f.code(source)]
    return f.to_bytes(f.notebook(name, version, cells, endpoints=list(endpoints)))


def refused(root: str, data: bytes) -> list[str]:
    with pytest.raises(PublishRefused) as info:
        publish(root, data, validate=False)
    assert all(p.check == "semver" for p in info.value.details), info.value.details
    return [p.message for p in info.value.details]


def http_changes(outcome) -> list[dict]:
    return [c for c in outcome.changes if c.get("surface") == "http"]


# -- the rules, published -------------------------------------------------------------------------

def test_dropping_an_endpoint_needs_major_naming_its_route(registry):
    """The function stays (no Python change at all), its endpoint goes: /models/demo/1/area is a 404."""
    publish(registry, api("1.0.0"), validate=False)
    messages = refused(registry, api("1.1.0", endpoints=["scale"]))
    assert messages == ["HTTP surface: endpoint POST /models/demo/1/area was removed (its HTTP callers would get 404): "
                        "needs a MAJOR bump over demo@1.0.0, but 1.1.0 is a MINOR bump"]
    out = publish(registry, api("2.0.0", endpoints=["scale"]), validate=False)
    assert out.created and out.metadata["endpoints"].keys() == {"scale"}
    assert http_changes(out) == [{
        "kind": "endpoint-removed", "name": "area", "bump": "major", "surface": "http", "route": "/models/demo/1/area",
        "message": "endpoint POST /models/demo/1/area was removed (its HTTP callers would get 404)"}]
    assert [c for c in out.changes if c.get("surface") != "http"] == []  # a function can stay while its endpoint goes


def test_dropping_an_endpoint_on_a_0x_line_needs_minor(registry):
    publish(registry, api("0.1.0"), validate=False)
    messages = refused(registry, api("0.1.1", endpoints=["scale"]))
    assert messages == ["HTTP surface: endpoint POST /models/demo/0.1/area was removed (its HTTP callers would get 404): "
                        "needs a MINOR bump over demo@0.1.0, but 0.1.1 is a PATCH bump"]
    out = publish(registry, api("0.2.0", endpoints=["scale"]), validate=False)
    assert out.created
    assert [(c["kind"], c["bump"], c["route"]) for c in http_changes(out)] == [("endpoint-removed", "minor", "/models/demo/0.1/area")]


def test_a_new_endpoint_needs_minor(registry):
    publish(registry, api("1.0.0", endpoints=["scale"]), validate=False)
    messages = refused(registry, api("1.0.1"))
    assert messages == ["HTTP surface: new endpoint POST /models/demo/1/area: "
                        "needs a MINOR bump over demo@1.0.0, but 1.0.1 is a PATCH bump"]
    out = publish(registry, api("1.1.0"), validate=False)
    assert out.created
    assert http_changes(out) == [{"kind": "endpoint-added", "name": "area", "bump": "minor", "surface": "http",
                                  "route": "/models/demo/1/area", "message": "new endpoint POST /models/demo/1/area"}]


def test_a_parameter_narrowed_from_float_to_int_needs_major(registry):
    publish(registry, api("1.0.0"), validate=False)
    narrowed = api("1.1.0", SCALE + AREA.replace("s: float", "s: int"))
    messages = refused(registry, narrowed)
    http = [m for m in messages if m.startswith("HTTP surface:")]
    assert http == ["HTTP surface: endpoint POST /models/demo/1/area: parameter 's' accepts less: float (a number) became "
                    "int (an integer); arguments the old schema accepted are refused (400): "
                    "needs a MAJOR bump over demo@1.0.0, but 1.1.0 is a MINOR bump"]
    # The Python rule says it too, under its own heading: both are listed, the bump is the highest.
    assert any(m.startswith("area: the type of 's' changed from float to int") for m in messages), messages
    assert publish(registry, api("2.0.0", SCALE + AREA.replace("s: float", "s: int")), validate=False).created


def test_a_result_that_may_now_be_null_needs_major(registry):
    publish(registry, api("1.0.0"), validate=False)
    nullable = SCALE.replace(") -> float:", ') -> "float | None":') + AREA
    messages = refused(registry, api("1.1.0", nullable))
    http = [m for m in messages if m.startswith("HTTP surface:")]
    assert http == ["HTTP surface: endpoint POST /models/demo/1/scale: the result may now be null: float (a number) "
                    "became float | None (a number or null); callers that use it as before break: "
                    "needs a MAJOR bump over demo@1.0.0, but 1.1.0 is a MINOR bump"]
    out = publish(registry, api("2.0.0", nullable), validate=False)
    assert [(c["kind"], c["bump"], c["route"]) for c in http_changes(out)] == [
        ("endpoint-result-widened", "major", "/models/demo/1/scale")]


def test_a_parameter_widened_from_int_to_float_is_a_patch(registry):
    publish(registry, api("1.0.0", SCALE + AREA.replace("s: float", "s: int")), validate=False)
    out = publish(registry, api("1.0.1"), validate=False)
    assert out.created
    assert http_changes(out) == [{
        "kind": "endpoint-parameter-widened", "name": "area", "bump": "patch", "surface": "http",
        "route": "/models/demo/1/area",
        "message": "endpoint POST /models/demo/1/area: parameter 's' accepts more: int (an integer) became float (a number)"}]


def test_a_new_optional_parameter_needs_minor_and_a_new_required_one_major(registry):
    publish(registry, api("1.0.0"), validate=False)
    optional = SCALE + AREA.replace("(s: float)", "(s: float, sides: int = 4)")
    messages = refused(registry, api("1.0.1", optional))
    assert ("HTTP surface: endpoint POST /models/demo/1/area: new optional parameter 'sides': "
            "needs a MINOR bump over demo@1.0.0, but 1.0.1 is a PATCH bump") in messages
    required = SCALE + AREA.replace("(s: float)", "(s: float, sides: int)")
    messages = refused(registry, api("1.1.0", required))
    assert ("HTTP surface: endpoint POST /models/demo/1/area: new required parameter 'sides'; calls without it are "
            "refused (400): needs a MAJOR bump over demo@1.0.0, but 1.1.0 is a MINOR bump") in messages
    out = publish(registry, api("1.1.0", optional), validate=False)
    assert [(c["kind"], c["bump"]) for c in http_changes(out)] == [("endpoint-parameter-added", "minor")]


def test_a_boolean_parameter_become_int_is_narrower_over_http(registry):
    """Python's tower puts bool within int (a patch for Python callers); the binder refuses ``true``
    for an ``int``, so HTTP callers that sent booleans break: MAJOR."""
    publish(registry, api("1.0.0", 'def flag(on: bool) -> int:\n    """Flag."""\n    return int(on)\n', ["flag"]), validate=False)
    messages = refused(registry, api("1.0.1", 'def flag(on: int) -> int:\n    """Flag."""\n    return int(on)\n', ["flag"]))
    assert messages == ["HTTP surface: endpoint POST /models/demo/1/flag: parameter 'on' accepts less: bool (true or false) "
                        "became int (an integer); arguments the old schema accepted are refused (400): "
                        "needs a MAJOR bump over demo@1.0.0, but 1.0.1 is a PATCH bump"]


def test_the_lab_style_surface_unchanged_is_no_http_change(registry):
    """Same endpoints, other spellings of the same types and a changed body: nothing to report."""
    old = 'from typing import List, Optional\ndef fit(V: List[float], w: Optional[float] = None) -> "dict[str, float]":\n' \
          '    """Fit."""\n    return {}\n'
    new = 'def fit(V: list[float], w: "float | None" = None) -> dict[str, float]:\n    """Fit, faster."""\n    return {"a": 1.0}\n'
    publish(registry, api("1.0.0", old, ["fit"]), validate=False)
    out = publish(registry, api("1.0.1", new, ["fit"]), validate=False)
    assert out.created and http_changes(out) == []


# -- gilgamesh diff -------------------------------------------------------------------------------

def test_diff_json_lists_http_changes_with_their_route(tmp_path, registry):
    publish(registry, api("1.0.0"), validate=False)
    working = tmp_path / "demo-1.1.0.ipynb"
    # area's endpoint dropped, scale's x narrowed to int, a new endpoint "perimeter"
    source = SCALE.replace("x: float", "x: int") + AREA + 'def perimeter(s: float) -> float:\n    """P."""\n    return 4 * s\n'
    working.write_bytes(api("1.1.0", source, ["scale", "perimeter"]))
    out = run_cli("diff", "demo@1", str(working), "--json", "--registry", registry)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["required"] == "major" and data["bump"] == "minor"
    http = [c for c in data["changes"] if c.get("surface") == "http"]
    assert [(c["kind"], c["name"], c["bump"], c["route"]) for c in http] == [
        ("endpoint-removed", "area", "major", "/models/demo/1/area"),
        ("endpoint-parameter-narrowed", "scale", "major", "/models/demo/1/scale"),
        ("endpoint-added", "perimeter", "minor", "/models/demo/1/perimeter"),
    ]
    assert http[0]["message"] == "endpoint POST /models/demo/1/area was removed (its HTTP callers would get 404)"
    assert "parameter 'x' accepts less: float (a number) became int (an integer)" in http[1]["message"]
    python = [c for c in data["changes"] if c.get("surface") != "http"]
    assert sorted(c["kind"] for c in python) == ["name-added", "parameter-type-changed"]

    text = run_cli("diff", "demo@1", str(working), "--registry", registry).stdout
    lines = text.splitlines()
    assert lines[0] == f"demo 1.0.0 -> 1.1.0 ({working}): requires a MAJOR bump"
    heading = lines.index("  HTTP surface:")
    assert all(not line.startswith("    ") for line in lines[1:heading])  # the Python API's changes first
    assert lines[heading + 1:] == [
        "    MAJOR endpoint POST /models/demo/1/area was removed (its HTTP callers would get 404)",
        "    MAJOR endpoint POST /models/demo/1/scale: parameter 'x' accepts less: float (a number) became int "
        "(an integer); arguments the old schema accepted are refused (400)",
        "    MINOR new endpoint POST /models/demo/1/perimeter",
    ]


def test_diff_of_two_published_versions_reads_their_stored_endpoints(registry):
    publish(registry, api("1.0.0"), validate=False)
    publish(registry, api("2.0.0", endpoints=["scale"]), validate=False)
    out = run_cli("diff", "demo@1.0.0", "demo@2.0.0", "--json", "--registry", registry)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["required"] == "major"
    assert [(c["kind"], c["surface"], c["route"]) for c in data["changes"]] == [
        ("endpoint-removed", "http", "/models/demo/1/area")]
    text = run_cli("diff", "demo@1.0.0", "demo@2.0.0", "--registry", registry).stdout
    assert "no API changes" not in text
    assert text.splitlines()[1:] == ["  HTTP surface:",
                                     "    MAJOR endpoint POST /models/demo/1/area was removed (its HTTP callers would get 404)"]


def test_the_publish_output_shows_the_http_surface_under_its_heading(tmp_path, registry):
    publish(registry, api("1.0.0", endpoints=["scale"]), validate=False)
    path = tmp_path / "demo-1.1.0.ipynb"
    path.write_bytes(api("1.1.0"))
    out = run_cli("validate", str(path), "--registry", registry)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    at = lines.index("  API changes over 1.0.0:")
    assert lines[at + 1:at + 3] == ["    HTTP surface:", "      MINOR new endpoint POST /models/demo/1/area"]


# -- the surface itself ---------------------------------------------------------------------------

def test_the_stored_endpoints_are_the_surface_the_service_binds_and_declares(registry):
    """The request schema compared is the binder's (and so /openapi.json's), from the stored entry."""
    from gilgamesh.service.calls.binder import Binder

    publish(registry, api("1.0.0"), validate=False)
    entry = LocalReader(registry).entry("demo", "1.0.0")
    signatures = published_signatures(entry)
    assert signatures == entry["endpoints"] and set(signatures) == {"scale", "area"}
    surface = http_surface("demo", "1.0.0", signatures)
    scale = surface["scale"]
    assert scale.route == route("demo", "1.0.0", "scale") == "/models/demo/1/scale"
    binder = Binder("demo@1.0.0 scale", signatures["scale"])
    assert scale.params == binder.request_schema() == {
        "type": "object", "additionalProperties": False, "required": ["x"],
        "properties": {"x": {"type": "number"}, "factor": {"type": "number", "default": 2.0}}}
    assert scale.result == binder.returns.schema() == result_schema(signatures["scale"]) == {"type": "number"}
    # /openapi.json's operation for the route declares that very request body.
    from gilgamesh.service.openapi import _model_operation

    operation = _model_operation("demo", "1", "1.0.0", "scale", signatures["scale"], "")
    assert operation["requestBody"]["content"]["application/json"]["schema"] == request_schema(signatures["scale"])


def test_endpoint_signatures_leave_out_what_has_no_route():
    snapshot = {"f": {"kind": "function", "params": [], "returns": "float"}, "K": {"kind": "class"},
                "g": {"kind": "function", "params": None}}
    assert endpoint_signatures(["f", "K", "g", "missing", 3], snapshot) == {"f": {"params": [], "returns": "float"}}
    assert endpoint_signatures("f", snapshot) == {}


def test_routes_follow_the_version_lines():
    assert route("demo", "1.4.2", "f") == "/models/demo/1/f"
    assert route("demo", "0.3.1", "f") == "/models/demo/0.3/f"
    assert route("demo", "2.0.0rc1", "f") == "/models/demo/2.0.0rc1/f"


def _schema(text):
    return parse_annotation(text).schema()


WITHIN = [
    # (narrow, wide, narrow within wide)
    ("int", "float", True),
    ("float", "int", False),
    ("bool", "int", False),  # JSON: true is no integer (the binder agrees)
    ("float", "float | None", True),
    ("float | None", "float", False),
    ("list[int]", "list[float]", True),
    ("list[float]", "list[int]", False),
    ("dict[str, int]", "dict[str, float]", True),
    ("list[float]", "numpy.ndarray", True),  # a flat array of numbers is a 1-D numpy array
    ("numpy.ndarray", "list[float]", False),  # ... but not every numpy array is flat
    ("np.ndarray", "numpy.ndarray | None", True),
    ("str", "float", False),
    (None, "float", False),  # unannotated: anything
    ("float", None, True),
]


@pytest.mark.parametrize("narrow, wide, within", WITHIN)
def test_schema_within(narrow, wide, within):
    assert schema_within(_schema(narrow), _schema(wide)) is within


def _sig(params, returns="float"):
    return {"params": [{"name": n, "kind": "positional_or_keyword", "annotation": a, "default": d} for n, a, d in params],
            "returns": returns}


RULES = [
    # (old signature, new signature, kinds, required bump on 1.x)
    (_sig([("x", "float", None)]), _sig([("x", "float", None)]), [], "patch"),
    (_sig([("x", "float", None)]), _sig([("x", "float", "1.0")]), ["endpoint-parameter-now-optional"], "minor"),
    (_sig([("x", "float", "1.0")]), _sig([("x", "float", None)]), ["endpoint-parameter-narrowed"], "major"),
    (_sig([("x", "float", None), ("y", "float", "0.0")]), _sig([("x", "float", None)]), ["endpoint-parameter-narrowed"], "major"),
    (_sig([("x", "list[float]", None)]), _sig([("x", "list[int]", None)]), ["endpoint-parameter-narrowed"], "major"),
    (_sig([("x", "float | None", None)]), _sig([("x", "float", None)]), ["endpoint-parameter-narrowed"], "major"),
    (_sig([("x", "float", None)], "int"), _sig([("x", "float", None)], "float"), ["endpoint-result-widened"], "major"),
    (_sig([("x", "float", None)], "float | None"), _sig([("x", "float", None)], "float"), ["endpoint-result-narrowed"], "patch"),
    (_sig([("x", "float", None)], "float"), _sig([("x", "float", None)], "int"), ["endpoint-result-narrowed"], "patch"),
    (_sig([("x", "float", "2.0")]), _sig([("x", "float", "3.0")]), [], "patch"),  # a default is default-changed's
]


@pytest.mark.parametrize("old, new, kinds, bump", RULES)
def test_each_http_rule(old, new, kinds, bump):
    changes = diff_http_surface("demo", "1.0.0", {"f": old}, "1.0.1", {"f": new})
    assert [c.kind for c in changes] == kinds
    assert required_bump(changes, "1.0.0") == bump
    assert required_bump(changes, "0.1.0") == ("minor" if bump == "major" else bump)
    for c in changes:
        assert c.to_dict().keys() == {"kind", "name", "bump", "message", "route", "surface"}
        assert c.route == "/models/demo/1/f" and c.surface == "http" and c.message.startswith("endpoint POST /models/demo/1/f: ")

"""The standard OpenAPI generators against the live ``/openapi.json``: no warnings, and clients that work.

openapi-python-client (the test extra) and openapi-typescript (npm, ``tests/service/generators``,
installed by ``make install``) read the document of a service serving the lab's real notebooks
(plasma, langmuir 2.0.0) and the ``geo`` fixture, whose endpoints take and return numpy arrays.
The generated Python client then calls the live server.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import shutil
import subprocess
import sys

import pytest
import service_apis as apis
from service_kit import Server, http

from gilgamesh.registry.publish.pipeline import publish
from gilgamesh.registry.store.git_store import init_registry

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GENERATORS = os.path.join(HERE, "generators")
BIN = os.path.join(GENERATORS, "node_modules", ".bin")


@pytest.fixture(scope="module")
def lab_document(tmp_path_factory, service_env, png):
    root = str(tmp_path_factory.mktemp("generators") / "registry")
    init_registry(root)
    for path in ("plasma/1.0.0.ipynb", "langmuir/2.0.0.ipynb"):
        with open(os.path.join(ROOT, "api_notebooks", path), "rb") as f:
            publish(root, f.read(), publisher="seed", validate=False)
    publish(root, apis.geo_next("1.1.0", png), publisher="seed", validate=False)
    server = Server(root, call_timeout=60).start()
    try:
        r = http("GET", server.url + "/openapi.json")
        assert r.status == 200
        path = str(tmp_path_factory.mktemp("document") / "openapi.json")
        with open(path, "wb") as f:
            f.write(r.body)
        server.document = path
        yield server
    finally:
        server.stop()


def test_openapi_python_client_generates_every_operation_and_calls_the_server(lab_document, tmp_path):
    out = tmp_path / "lab_client"
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    run = subprocess.run([sys.executable, "-m", "openapi_python_client", "generate", "--path", lab_document.document,
                          "--output-path", str(out), "--meta", "none"],
                         capture_output=True, text=True, env=env, timeout=600)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Warning" not in output and "WARNING" not in output, output
    sys.path.insert(0, str(tmp_path))
    try:
        client_mod = importlib.import_module("lab_client.client")
        synthetic = importlib.import_module("lab_client.api.langmuir.langmuir_v2_synthetic_iv")
        stats = importlib.import_module("lab_client.api.geo.geo_v1_stats")
        models = importlib.import_module("lab_client.models")
        client = client_mod.Client(base_url=lab_document.url, raise_on_unexpected_status=True, timeout=120)

        volts = [-10.0, -2.0, 0.0, 1.0, 3.0]
        answer = synthetic.sync(client=client, body=models.LangmuirV2SyntheticIvBody(
            v=volts, n_e=1e16, t_e=3.0, v_p=2.0, area=1e-5, ion_mass_amu=39.948))
        assert answer.name == "langmuir" and answer.version == "2.0.0"
        current = answer.result
        assert len(current) == len(volts) and all(isinstance(i, float) for i in current)
        assert current == sorted(current) and current[-1] > 0  # rises with the bias, electrons collected
        raw = http("POST", lab_document.url + "/models/langmuir/2/synthetic_iv", {
            "V": volts, "n_e": 1e16, "T_e": 3.0, "V_p": 2.0, "area": 1e-5, "ion_mass_amu": 39.948})
        assert raw.json()["result"] == current

        # An ndarray parameter: the operation is generated, of any rank up to the limit.
        for values, ndim in (([1.0, 2.0, 3.0, 4.0], 1), ([[1.0, 2.0], [3.0, 4.0]], 2)):
            result = stats.sync(client=client, body=models.GeoV1StatsBody(values=values)).result
            assert result.additional_properties["ndim"] == ndim
            assert math.isclose(result.additional_properties["mean"], 2.5)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "lab_client" or m.startswith("lab_client.")]:
            del sys.modules[name]


def test_openapi_typescript_generates_types_that_compile(lab_document, tmp_path):
    if shutil.which("node") is None or not os.path.exists(os.path.join(BIN, "openapi-typescript")):
        pytest.fail("openapi-typescript is not installed: 'make install' runs "
                    "'npm ci --prefix tests/service/generators' (it needs node and npm: apt-get install npm)")
    out = str(tmp_path / "lab.d.ts")
    run = subprocess.run([os.path.join(BIN, "openapi-typescript"), lab_document.document, "-o", out],
                         capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "⚠" not in output and "warn" not in output.lower() and "error" not in output.lower(), output
    types = open(out).read()
    assert '"/models/langmuir/2/synthetic_iv"' in types and '"/api/notebooks/{name}/{version}/yank"' in types
    # Every operation's types type-check (strict), the numpy arrays as nested number arrays.
    usage = tmp_path / "use.ts"
    usage.write_text(
        'import type { components, operations } from "./lab";\n'
        'type Body = operations["geo_v1_stats"]["requestBody"]["content"]["application/json"];\n'
        'const flat: Body = { values: [1, 2, 3] };\n'
        'const square: Body = { values: [[1, 2], [3, 4]] };\n'
        'type Answer = operations["langmuir_v2_synthetic_iv"]["responses"][200]["content"]["application/json"];\n'
        'const answer: Answer = { result: [1.5, "NaN", "-Infinity"], name: "langmuir", version: "2.0.0" };\n'
        'const bad: components["schemas"]["NonFiniteNumber"] = "Infinity";\n'
        'export { flat, square, answer, bad };\n')
    tsc = subprocess.run([os.path.join(BIN, "tsc"), "--noEmit", "--strict", str(usage), out],
                         capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert tsc.returncode == 0, tsc.stdout + tsc.stderr


def test_the_document_describes_every_route(lab_document):
    document = json.load(open(lab_document.document))
    paths = document["paths"]
    routes = {
        ("/api/notebooks", "get"), ("/api/notebooks", "post"), ("/api/notebooks/{name}", "get"),
        ("/api/notebooks/{name}/{spec}", "get"), ("/api/notebooks/{name}/{spec}/notebook", "get"),
        ("/api/notebooks/{name}/{spec}/dependents", "get"),
        ("/api/notebooks/{name}/{version}/yank", "post"), ("/api/notebooks/{name}/{version}/yank", "delete"),
        ("/api/notebooks/{name}/{version}/deprecate", "post"), ("/api/notebooks/{name}/{version}/deprecate", "delete"),
        ("/docs/{name}/{spec}", "get"), ("/", "get"), ("/healthz", "get"), ("/openapi.json", "get"),
        ("/models/langmuir/2/synthetic_iv", "post"), ("/models/plasma/1/debye_length", "post"),
    }
    assert {(p, m) for p, ops in paths.items() for m in ops} >= routes
    op = paths["/models/plasma/1/debye_length"]["post"]
    properties = op["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert properties["T_e"]["description"].startswith("Electron temperature") and "[eV]" in properties["T_e"]["description"]
    assert all(p.get("description") for p in properties.values()), properties
    headers = op["responses"]["200"]["headers"]
    assert headers["Gilgamesh-Version"]["required"] is True and "Gilgamesh-Warning" in headers
    assert document["components"]["responses"]["Error503"]["headers"]["Retry-After"]
    grid = paths["/models/geo/1/grid"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    ranks = grid["properties"]["result"]["anyOf"]
    assert len(ranks) == 4 and all(r["type"] == "array" and "items" in r for r in ranks)
    assert paths["/api/notebooks/{name}/{version}/yank"]["post"]["security"] == [{"bearer": []}]

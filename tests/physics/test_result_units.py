"""A result whose description gives each field its unit keeps each unit with its field (issue 31, item 5).

langmuir 1.2.0's ``analyze`` returns a dict described as "``T_e`` [eV]; ``n_e`` [m^-3] ...;
``V_f`` and ``V_p`` [V]; ...". Taking the first unit out as the whole result's moved "[eV]" to the
end of the OpenAPI description and gave every field of the try-it form eV.
"""

from __future__ import annotations

import html
import json
import re
import sys
import os

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "service"))
from service_kit import Server, http  # noqa: E402

FIELDS = {"T_e": "eV", "n_e": "m^-3", "n_i": "m^-3", "V_f": "V", "V_p": "V", "I_sat": "A", "I_es": "A"}


@pytest.fixture(scope="module")
def lab_server(lab_registry, tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("GILGAMESH_CACHE", str(tmp_path_factory.mktemp("units-cache")))
    server = Server(lab_registry[0], model_workers=1, max_model_workers=1).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


def test_the_openapi_description_keeps_each_unit_beside_its_field(lab_server):
    document = http("GET", lab_server.url + "/openapi.json").json()
    operation = document["paths"]["/models/langmuir/1/analyze"]["post"]  # the 1.x line: 1.2.0
    described = json.dumps(operation)
    assert "`T_e` [eV]; `n_e` [m^-3]" in described, described[:2000]
    assert not re.search(r"\(magnitudes\)\.? \[eV\]", described), "the first unit was moved to the end"


def test_the_try_it_form_gives_each_result_field_its_own_unit(lab_server):
    page = http("GET", lab_server.url + "/ui/langmuir/1.2.0")
    assert page.status == 200
    forms = re.findall(r'data-endpoint="([^"]+)" data-result-units="([^"]*)"', page.body.decode())
    units = {endpoint: json.loads(html.unescape(raw)) for endpoint, raw in forms}
    assert units["analyze"] == FIELDS  # and no unit for the result as a whole
    assert units["electron_temperature"] == {"": "eV"}  # a single unit stays the result's

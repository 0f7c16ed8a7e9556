"""The try-it form of a served API in headless Chromium: units from the docstring beside each
parameter and result field, results formatted for reading, the JSON shown exact (issue 30, item 10)."""

from __future__ import annotations

import json
import math
import os

import pytest
from playwright.sync_api import expect

from nbfactory import code, markdown, notebook, to_bytes
from service_kit import Server
from support import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser


CONSTANTS = "import math\n\nE = 1.602176634e-19\nEPS0 = 8.8541878128e-12\nM_E = 9.1093837015e-31"
DEBYE = '''def debye_length(T_e: float, n_e: float) -> float:
    """Electron Debye length.

    Parameters
    ----------
    T_e : float
        Electron temperature [eV].
    n_e : float
        Electron density [m^-3].

    Returns
    -------
    float
        The Debye length [m].
    """
    return math.sqrt(EPS0 * T_e / (n_e * E))'''
SCALES = '''def scales(T_e: float, n_e: float, count: int = 3) -> dict[str, float]:
    """The plasma's scales.

    Parameters
    ----------
    T_e : float
        Electron temperature [eV].
    n_e : float
        Electron density [m^-3].
    count : int, optional
        How many (no unit).

    Returns
    -------
    lambda_D : float
        Debye length [m].
    omega_pe : float
        Electron plasma frequency [rad/s].
    """
    return {"lambda_D": debye_length(T_e, n_e), "omega_pe": math.sqrt(n_e * E**2 / (EPS0 * M_E)), "count": count}'''


def _debye(T_e: float, n_e: float) -> float:
    return math.sqrt(8.8541878128e-12 * T_e / (n_e * 1.602176634e-19))


def _omega(n_e: float) -> float:
    return math.sqrt(n_e * 1.602176634e-19**2 / (8.8541878128e-12 * 9.1093837015e-31))


def _reading(x: float) -> str:
    """What the form shows for a very small or large number: 4 significant digits, a power of ten."""
    mantissa, exponent = f"{x:.3e}".split("e")
    superscript = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")
    return f"{mantissa.rstrip('0').rstrip('.')} \u00d7 10{str(int(exponent)).translate(superscript)}"


@pytest.fixture(scope="module")
def units_server(tmp_path_factory, service_env):
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path_factory.mktemp("units") / "registry")
    init_registry(root)
    cells = [markdown("# plasma scales\n\nLengths and frequencies of a plasma."), code(CONSTANTS), code(DEBYE),
             code(SCALES)]
    publish(root, to_bytes(notebook("scales", "1.0.0", cells, summary="Plasma scales.",
                                    endpoints=["debye_length", "scales"])), publisher="test", validate=False)
    server = Server(root, call_timeout=20, model_workers=1, max_model_workers=1).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(units_server):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: 'make browser' installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.errors = errors
        yield page
        context.close()
        browser.close()


def _raw_result(output) -> object:
    """The JSON the form shows (above the ``(name@version)`` line), parsed."""
    return json.loads(output.inner_text().rsplit("\n\n", 1)[0])


def test_try_it_shows_units_and_readable_numbers_with_the_exact_json(page, units_server, artifacts):
    page.goto(units_server.url + "/ui/scales")
    form = page.locator("#endpoint-debye_length form.try-it")
    # Each parameter's unit, as the docstring writes it in brackets, beside its field.
    assert form.locator(".field .unit[data-param='T_e']").inner_text() == "eV"
    assert form.locator(".field .unit[data-param='n_e']").inner_text() == "m^-3"
    expect(form.locator(".field .unit[data-param='T_e']")).to_be_visible()
    form.locator("input[name='T_e']").fill("2.5")
    form.locator("input[name='n_e']").fill("1e17")
    form.locator("button[type='submit']").click()
    expect(form.locator("output.result.ok")).to_contain_text("scales@1.0.0", timeout=30000)
    exact = _debye(2.5, 1e17)
    view = form.locator(".result-view")
    expect(view).to_be_visible()
    # Formatted for reading, with the result's unit ...
    assert view.locator(".value").inner_text() == _reading(exact) == "3.717 \u00d7 10\u207b\u2075"
    assert view.locator(".unit").inner_text() == "m"
    # ... while the JSON shown holds the exact value the model returned.
    assert _raw_result(form.locator("output.result")) == exact
    assert repr(exact) not in view.inner_text()

    # A dict result: each field with its own unit (numpydoc names the values), a count as it is.
    scales = page.locator("#endpoint-scales form.try-it")
    assert scales.locator(".field .unit[data-param='T_e']").inner_text() == "eV"
    assert scales.locator(".field .unit[data-param='count']").inner_text() == ""
    scales.locator("input[name='T_e']").fill("2.5")
    scales.locator("input[name='n_e']").fill("1e17")
    scales.locator("input[name='count']").fill("7")
    scales.locator("button[type='submit']").click()
    expect(scales.locator("output.result.ok")).to_contain_text("scales@1.0.0", timeout=30000)
    rows = scales.locator(".result-view tr")
    expect(rows).to_have_count(3)
    lam, omega, count = (scales.locator(f".result-view tr[data-key='{k}']") for k in ("lambda_D", "omega_pe", "count"))
    assert lam.locator(".value").inner_text() == _reading(exact) and lam.locator(".unit").inner_text() == "m"
    assert omega.locator(".value").inner_text() == _reading(_omega(1e17)) == "1.784 \u00d7 10\u00b9\u2070"
    assert omega.locator(".unit").inner_text() == "rad/s"
    assert count.locator(".value").inner_text() == "7" and count.locator(".unit").count() == 0
    assert _raw_result(scales.locator("output.result")) == {"lambda_D": exact, "omega_pe": _omega(1e17), "count": 7}
    page.screenshot(path=os.path.join(artifacts, "service-try-it-units.png"), full_page=True)
    assert not page.errors

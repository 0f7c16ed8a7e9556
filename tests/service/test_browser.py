"""The web UI in headless Chromium (Debian's /usr/bin/chromium through playwright; no browser download)."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect
from support import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def page(server, artifacts):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: 'make browser' installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        # Offline but for the service itself: anything fetched from elsewhere fails the test.
        outside = []

        def only_local(route):
            if route.request.url.startswith(server.url):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.outside, page.errors = outside, errors
        yield page
        context.close()
        browser.close()


def test_index_lists_the_apis(page, server, artifacts):
    page.goto(server.url + "/")
    rows = page.locator("tr.api")
    assert rows.count() == 2
    assert page.locator("tr.api[data-name='geo'] td").nth(2).inner_text() == "1.1.0"
    page.screenshot(path=os.path.join(artifacts, "service-index.png"), full_page=True)
    assert not page.errors and not page.outside


def test_docs_render_equations_and_figures_offline(page, server, artifacts):
    assert server.ctx.katex_available, "KaTeX is not installed: run 'npm ci --prefix service/static'"
    page.goto(server.url + "/docs/geo/1")
    page.wait_for_selector("#notebook[data-math-rendered='true']", timeout=20000)
    # KaTeX replaced the TeX with its own DOM: inline and display math.
    assert page.locator("#notebook .katex").count() >= 3
    assert page.locator("#notebook .katex-display").count() >= 1
    sources = page.evaluate("Array.from(document.querySelectorAll('#notebook .katex annotation'))"
                            ".map(a => a.textContent.trim())")
    assert "A = s^2" in sources and "E = m c^2" in sources
    assert "$A = s^2$" not in page.locator("#notebook").inner_text()  # no TeX left unrendered
    # The example cell's plot is an image that loaded.
    loaded = page.evaluate("Array.from(document.querySelectorAll('#notebook img[src^=\"data:image/png\"]'))"
                           ".filter(i => i.complete && i.naturalWidth > 0).length")
    assert loaded >= 1
    # Nothing the notebook carried ran.
    assert page.evaluate("window.__pwned === undefined")
    page.screenshot(path=os.path.join(artifacts, "service-docs.png"), full_page=True)
    assert not page.errors and not page.outside


def test_try_it_form_shows_the_result(page, server, artifacts):
    page.goto(server.url + "/ui/geo")
    assert page.locator("tr.yanked[data-version='1.2.0']").count() == 1
    form = page.locator("#endpoint-scale form.try-it")
    form.locator("input[name='x']").fill("21")
    form.locator("input[name='factor']").fill("2")
    form.locator("button[type='submit']").click()
    output = form.locator("output.result.ok")
    expect(output).to_contain_text("geo@1.1.0", timeout=20000)
    assert output.inner_text().splitlines()[0] == "42"

    greet = page.locator("#endpoint-greet form.try-it")
    greet.locator("input[name='name']").fill("ada")
    greet.locator("select[name='loud']").select_option("true")
    greet.locator("textarea[name='tags']").fill('["x"]')
    greet.locator("button[type='submit']").click()
    expect(greet.locator("output.result")).to_contain_text("HELLO", timeout=20000)
    assert '"HELLO ADA #X"' in greet.locator("output.result").inner_text()

    # A model error is shown as such.
    fail = page.locator("#endpoint-fail form.try-it")
    fail.locator("input[name='message']").fill("no plasma")
    fail.locator("button[type='submit']").click()
    expect(fail.locator("output.result.failed")).to_contain_text("422", timeout=20000)
    assert "422" in fail.locator("output.result").inner_text()
    assert "no plasma" in fail.locator("output.result").inner_text()
    page.screenshot(path=os.path.join(artifacts, "service-try-it.png"), full_page=True)
    assert not page.errors and not page.outside

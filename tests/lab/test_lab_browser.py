"""JupyterLab with Gilgamesh's extensions in Debian's Chromium (playwright; Galata cannot download
its browser here): the panel lists a seeded registry, a version's docs open in the main area, fork
opens a notebook in the Gilgamesh kernel whose first run imports the pinned version, and the status
bar item names it."""

from __future__ import annotations

import json
import os

import pytest

from lab_kit import WAIT_RESTORED, Lab, seed_registry
from support import CHROMIUM, CHROMIUM_ARGS

# One JupyterLab and one page for the module: its tests run in one process, in order.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("lab-browser")]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "test-artifacts")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("lab-home")
    registry = seed_registry(str(home / "registry"))
    server = Lab(str(home), registry)
    yield server
    server.close()


@pytest.fixture(scope="module")
def page(lab):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: 'make browser' installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        outside = []

        def only_local(route):  # offline but for the lab itself
            if route.request.url.startswith(lab.url):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.outside = outside
        page.goto(lab.page_url(), wait_until="domcontentloaded")
        page.evaluate(WAIT_RESTORED)
        yield page
        context.close()
        browser.close()


def test_the_panel_lists_the_registry(page):
    commands = page.evaluate("window.jupyterapp.commands.listCommands().filter(c => c.startsWith('gilgamesh:'))")
    assert {"gilgamesh:open-registry", "gilgamesh:fork", "gilgamesh:open-docs"} <= set(commands)
    page.evaluate("window.jupyterapp.commands.execute('gilgamesh:open-registry')")
    panel = page.locator("#gilgamesh-registry-panel[data-state='ready']")
    panel.wait_for(timeout=20000)
    assert panel.is_visible()
    assert panel.locator("li.gilgamesh-api").evaluate_all("els => els.map(e => e.dataset.name)") == ["demo", "plasma"]
    demo = panel.locator("li.gilgamesh-api[data-name='demo']")
    assert demo.locator(".gilgamesh-api-latest").inner_text() == "1.1.0"
    yanked = demo.locator("li.gilgamesh-version[data-version='1.0.0']")
    assert "gilgamesh-mod-yanked" in yanked.get_attribute("class")
    assert yanked.locator(".gilgamesh-badge-yanked").get_attribute("title") == "yanked: wrong factor"
    deprecated = panel.locator("li.gilgamesh-api[data-name='plasma'] li.gilgamesh-version[data-version='1.0.0']")
    assert "gilgamesh-mod-deprecated" in deprecated.get_attribute("class")
    # Both sides are one release: the handshake shows nothing.
    assert panel.locator(".gilgamesh-RegistryPanel-banner").is_hidden()
    # Read when shown, never by polling: an idle panel asks nothing.
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/gilgamesh/" in r.url else None)
    page.wait_for_timeout(1500)
    assert asked == []
    assert not page.errors and not page.outside


def test_a_version_s_docs_open_in_the_main_area(page):
    page.evaluate("window.jupyterapp.commands.execute('gilgamesh:open-registry')")
    page.locator("li.gilgamesh-api[data-name='demo'] li.gilgamesh-version[data-version='1.1.0'] button").click()
    docs = page.locator("#gilgamesh-docs-demo-1_1_0 .gilgamesh-Docs[data-state='ready']")
    docs.wait_for(timeout=30000)
    assert "Twice the plasma scale of x" in docs.inner_text()
    assert page.locator(".lm-TabBar-tab.lm-mod-current").filter(has_text="demo@1.1.0").count() == 1


def test_fork_opens_the_next_version_in_the_gilgamesh_kernel_and_the_status_names_its_import(page, lab):
    result = page.evaluate("window.jupyterapp.commands.execute('gilgamesh:fork', {spec: 'demo@1.1', path: 'work/'})")
    assert result["path"] == "work/demo-1.2.0.ipynb" and result["version"] == "1.2.0"
    with open(os.path.join(lab.root, "work", "demo-1.2.0.ipynb"), encoding="utf-8") as fh:
        written = json.load(fh)
    assert written["metadata"]["gilgamesh"]["version"] == "1.2.0"
    assert written["metadata"]["kernelspec"]["name"] == "gilgamesh"

    page.locator(".jp-NotebookPanel .jp-Notebook").first.wait_for(timeout=30000)
    kernel = page.evaluate("""async () => {
        const panel = window.jupyterapp.shell.currentWidget;
        await panel.sessionContext.ready;
        return {path: panel.context.path, kernel: panel.sessionContext.session.kernel.name};
    }""")
    assert kernel == {"path": "work/demo-1.2.0.ipynb", "kernel": "gilgamesh"}
    status = page.locator("#gilgamesh-status")
    assert status.inner_text() == "Gilgamesh: no API imported"

    # The first run: the working copy's first code cell imports plasma@1 (the `@` spelling works at once).
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.locator("#gilgamesh-status[data-imports='plasma@1.1.0']").wait_for(timeout=60000)
    assert status.inner_text() == "Gilgamesh: plasma 1.1.0"
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    assert page.locator(".jp-Cell .jp-mod-error, .jp-OutputArea-output.jp-mod-error").count() == 0

    # The panel and the status bar, side by side with the working copy.
    page.evaluate("window.jupyterapp.commands.execute('gilgamesh:open-registry')")
    page.locator("#gilgamesh-registry-panel[data-state='ready']").wait_for(timeout=20000)
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "lab-registry-panel.png"))
    assert not page.errors and not page.outside

"""Docstrings and citations on the service: the docs page, the API page, OpenAPI, a browser screenshot.

One registry holds ``tests/notebooks/docs/waves-1.0.0.ipynb`` (numpydoc, Google and markdown-cell
docstrings, units in brackets, citations), served by a real server on an ephemeral port.
"""

from __future__ import annotations

import os
import re

import pytest
from service_kit import Server, http

DOCS_FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks", "docs")
RST_LEFT = re.compile(r"-{4,}|(?<!`)``(?!`)|:math:|\.\. math::")


def fixture(name: str) -> bytes:
    with open(os.path.join(DOCS_FIXTURES, name), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory, service_env):
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path_factory.mktemp("docs-pages") / "registry")
    init_registry(root)
    from gilgamesh.registry.facade import LocalRegistry

    with open(os.path.join(DOCS_FIXTURES, "references.bib"), encoding="utf-8") as f:  # what the fixture cites
        LocalRegistry(root, "test").add_bibliography(f.read(), "references.bib")
    publish(root, fixture("waves-1.0.0.ipynb"), publisher="test", validate=False)
    server = Server(root, model_workers=1).start()
    yield server
    server.stop()


def page(server, path: str) -> str:
    r = http("GET", server.url + path, headers={"Accept": "text/html"})
    assert r.status == 200, r.body[:300]
    return r.body.decode()


def section(html: str, start: str, end: str) -> str:
    return html[html.index(start):html.index(end, html.index(start))]


def test_docs_page_has_an_api_reference_rendered_from_the_docstrings(docs_server):
    html = page(docs_server, "/docs/waves/1")
    api = section(html, '<section class="api-reference math-root" id="api-reference">', "</section>")
    assert not RST_LEFT.search(api), RST_LEFT.search(api)
    numpydoc = section(api, 'id="api-plasma_frequency"', 'id="api-sound_speed"')
    assert ('<dl class="doc-params"><dt><code class="param">n_e</code> <span class="type">float</span> '
            '<span class="unit">[m^-3]</span></dt><dd><p>Electron density.</p>') in numpydoc
    assert '<code class="param">Z</code> <span class="type">int</span> <span class="optional">optional</span>' in numpydoc
    assert ('<dl class="doc-returns"><dt><code class="param">omega_pe</code> <span class="type">float</span> '
            '<span class="unit">[rad/s]</span></dt><dd><p>The angular frequency; divide by $2\\pi$ for Hz.</p>') in numpydoc
    assert '<dl class="doc-raises"><dt><code class="exception">ValueError</code></dt>' in numpydoc
    assert "$$\n\\omega_{pe} = \\sqrt{n_e e^2 / (\\varepsilon_0 m_e)}\n$$" in numpydoc  # for KaTeX
    assert '<div class="doc-references"><ol>\n<li>F. F. Chen, Introduction to Plasma Physics (2016).</li>' in numpydoc
    google = section(api, 'id="api-sound_speed"', 'id="api-thermal_speed"')
    assert '<code class="param">T_e</code> <span class="unit">[eV]</span></dt><dd><p>Electron temperature.</p>' in google
    above = api[api.index('id="api-thermal_speed"'):]
    assert '<div class="doc-summary"><p>Thermal speed</p>' in above and "<h2>Thermal speed" not in above


def test_api_page_shows_each_endpoint_docstring_as_html(docs_server):
    html = page(docs_server, "/ui/waves/1")
    endpoint = section(html, 'id="endpoint-plasma_frequency"', "</section>")
    doc = section(endpoint, '<div class="doc math-root">', "<form")
    assert not RST_LEFT.search(doc)
    assert '<code class="param">n_e</code> <span class="type">float</span> <span class="unit">[m^-3]</span>' in doc
    assert '<script src="/vendor/katex/katex.min.js"></script>' in html  # the docstrings' equations typeset


def test_api_page_shows_keyword_only_and_positional_only_markers(fresh_registry, service_env):
    """The endpoint headings are the one snapshot-signature formatter's: ``*`` and ``/`` as written."""
    import html as html_module

    from nbfactory import code, markdown, notebook, to_bytes

    from gilgamesh.registry.publish.pipeline import publish

    cells = [markdown("# marks\n\nSignature markers."),
             markdown("Scale x."), code("def scale(x: float, *, factor: float = 2.0) -> float:\n    return x * factor"),
             markdown("a over b."), code("def ratio(a: float, /, b: float = 1.0) -> float:\n    return a / b")]
    publish(fresh_registry, to_bytes(notebook("marks", "1.0.0", cells, summary="Markers.", endpoints=["scale", "ratio"])),
            publisher="test", validate=False)
    server = Server(fresh_registry, model_workers=1).start()
    try:
        text = html_module.unescape(page(server, "/ui/marks/1"))
    finally:
        server.stop()
    assert "<h3><code>scale(x: float, *, factor: float = 2.0) -> float</code></h3>" in text
    assert "<h3><code>ratio(a: float, /, b: float = 1.0) -> float</code></h3>" in text

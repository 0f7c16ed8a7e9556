"""Every read route of the README's table of routes against a real server, with its errors in the one envelope."""

from __future__ import annotations

import hashlib
import re

import pytest
from service_kit import assert_error, http


def test_healthz(server):
    r = http("GET", server.url + "/healthz")
    assert r.status == 200
    assert r.json()["status"] == "ok"
    assert r.json()["workers"] == 2


def test_list_every_api(server):
    r = http("GET", server.url + "/api/notebooks")
    assert r.status == 200
    apis = {a["name"]: a for a in r.json()["notebooks"]}
    assert set(apis) == {"geo", "plain"}
    geo = apis["geo"]
    assert geo["summary"] == "Geometry for the service tests."
    assert geo["latest"] == "1.1.0"  # 1.2.0 is yanked, 2.0.0rc1 a pre-release
    assert geo["versions"] == ["1.0.0", "1.1.0", "1.2.0", "2.0.0rc1"]
    assert apis["plain"]["latest"] == "0.2.0"


def test_api_versions(server):
    r = http("GET", server.url + "/api/notebooks/geo")
    assert r.status == 200
    body = r.json()
    assert body["name"] == "geo" and body["latest"] == "1.1.0"
    versions = {v["version"]: v for v in body["versions"]}
    assert list(versions) == ["1.0.0", "1.1.0", "1.2.0", "2.0.0rc1"]
    assert versions["1.2.0"]["yanked"] is True
    assert versions["1.2.0"]["yank_reason"] == "wrong units in cube"
    assert versions["1.1.0"]["yanked"] is False and versions["1.1.0"]["yank_reason"] is None
    for v in versions.values():
        assert len(v["sha256"]) == 64 and v["published_at"]


@pytest.mark.parametrize("spec, version", [
    ("1", "1.1.0"),          # the highest 1.* release, skipping the yanked 1.2.0
    ("1.0", "1.0.0"),
    ("1.2.0", "1.2.0"),      # a yanked version is served for its exact spec
    ("2.0.0rc1", "2.0.0rc1"),
])
def test_resolve(server, spec, version):
    r = http("GET", f"{server.url}/api/notebooks/geo/{spec}")
    assert r.status == 200
    body = r.json()
    assert body["name"] == "geo" and body["version"] == version
    assert r.header("Gilgamesh-Version") == version
    assert set(body) >= {"name", "version", "sha256", "summary", "yanked", "endpoints", "dependencies"}
    assert body["endpoints"]["scale"]["params"][1] == {
        "name": "factor", "kind": "positional_or_keyword", "annotation": "float", "default": "2.0"}
    assert body["endpoints"]["scale"]["returns"] == "float"


def test_resolve_yanked_carries_reason(server):
    body = http("GET", server.url + "/api/notebooks/geo/1.2.0").json()
    assert body["yanked"] is True and body["yank_reason"] == "wrong units in cube"
    assert "yanked" in body["warning"]


def test_notebook_bytes_and_etag(server):
    r = http("GET", server.url + "/api/notebooks/geo/1.1.0/notebook")
    assert r.status == 200
    sha = hashlib.sha256(r.body).hexdigest()
    assert r.header("ETag") == f'"{sha}"'
    assert r.json()["metadata"]["gilgamesh"]["version"] == "1.1.0"
    assert "immutable" in r.header("Cache-Control")
    again = http("GET", server.url + "/api/notebooks/geo/1.1.0/notebook", headers={"If-None-Match": f'"{sha}"'})
    assert again.status == 304 and again.body == b""
    ranged = http("GET", server.url + "/api/notebooks/geo/1/notebook")
    assert ranged.header("Gilgamesh-Version") == "1.1.0" and ranged.header("Cache-Control") == "no-cache"


@pytest.mark.parametrize("path, status, fragment", [
    ("/api/notebooks/nope", 404, "no API named 'nope'"),
    ("/api/notebooks/Bad-Name", 400, "Invalid API name"),
    ("/api/notebooks/geo/7", 404, "no release of geo@7"),
    ("/api/notebooks/geo/1.9.9", 404, "geo has no version 1.9.9"),
    ("/api/notebooks/geo/0", 400, "0.x has no compatibility promise"),
    ("/api/notebooks/geo/v1.x", 400, "Invalid version spec"),
    ("/api/notebooks/nope/1/notebook", 404, "no API named 'nope'"),
    ("/api/notebooks/geo/3/notebook", 404, "no release of geo@3"),
    ("/docs/geo/9", 404, "no release of geo@9"),
    ("/no/such/route", 404, "no route GET /no/such/route"),
])
def test_read_errors(server, path, status, fragment):
    assert_error(http("GET", server.url + path), status, fragment)


def test_method_not_allowed(server):
    r = http("DELETE", server.url + "/api/notebooks")
    assert_error(r, 405, "DELETE is not allowed on /api/notebooks (allowed: GET, HEAD, POST, OPTIONS)")
    assert r.header("Allow") == "GET, HEAD, POST, OPTIONS"
    r = http("GET", server.url + "/api/notebooks/geo/1.1.0/yank")
    assert_error(r, 405, "GET is not allowed")
    assert r.header("Allow") == "POST, DELETE, OPTIONS"
    assert_error(http("PUT", server.url + "/models/geo/1/scale", {}), 405)


@pytest.mark.parametrize("path", ["/api/notebooks", "/api/notebooks/geo", "/api/notebooks/geo/1",
                                  "/api/notebooks/geo/1.1.0/notebook", "/openapi.json", "/healthz", "/docs/geo/1",
                                  "/", "/static/app.css"])
def test_head_answers_like_get_without_a_body(server, path):
    got = http("GET", server.url + path)
    head = http("HEAD", server.url + path)
    assert (head.status, head.body) == (200, b""), (path, head.status)
    assert head.header("Content-Type") == got.header("Content-Type")
    assert int(head.header("Content-Length")) == len(got.body)


def test_head_of_an_unknown_version_is_404(server):
    r = http("HEAD", server.url + "/api/notebooks/geo/7/notebook")
    assert (r.status, r.body) == (404, b"")


@pytest.mark.parametrize("path, status, fragment", [
    ("/static/nope.js", 404, "no file /static/nope.js"),
    ("/vendor/katex/nope.js", 404, "no file /vendor/katex/nope.js"),
    ("/static/../app.py", 403, "not in root static directory"),
])
def test_static_file_errors_answer_in_the_envelope(server, path, status, fragment):
    assert_error(http("GET", server.url + path), status, fragment)


def test_static_files_refuse_writes_in_the_envelope(server):
    r = http("POST", server.url + "/static/app.css", b"x")
    assert_error(r, 405, "POST is not allowed")
    assert r.header("Allow") == "GET, HEAD"


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_pages_answer_api_clients_with_the_error_envelope(server, accept):
    headers = {"Accept": accept} if accept else {}
    assert_error(http("GET", server.url + "/docs/geo/9", headers=headers), 404, "no release of geo@9")


def test_html_error_page_for_a_browser(server):
    r = http("GET", server.url + "/docs/geo/9", headers={"Accept": "text/html"})
    assert r.status == 404
    assert r.header("Content-Type").startswith("text/html")
    assert b"no release of geo@9" in r.body


def test_docs_page(server):
    r = http("GET", server.url + "/docs/geo/1", headers={"Accept": "text/html"})
    assert r.status == 200
    page = r.body.decode()
    assert r.header("Gilgamesh-Version") == "1.1.0"
    assert "script-src 'self'" in r.header("Content-Security-Policy")
    assert "$A = s^2$" in page                       # the TeX, typeset in the browser by KaTeX
    assert '<script src="/vendor/katex/katex.min.js">' in page
    assert "data:image/png;base64," in page           # the example cell's plot
    # Nothing the notebook carried can run: no script of its own, no handler, no javascript: URL.
    article = page.split('<article class="notebook" id="notebook">', 1)[1].split("</article>", 1)[0]
    assert "<script" not in article
    assert "onerror" not in article
    assert "javascript:" not in article
    assert "<span class=\"nf\">scale</span>" in article  # the code, highlighted


def test_static_math_library_is_served_locally(server):
    assert server.ctx.katex_available, "KaTeX is not installed: run 'npm ci --prefix service/static'"
    r = http("GET", server.url + "/vendor/katex/katex.min.js")
    assert r.status == 200 and len(r.body) > 100_000
    css = http("GET", server.url + "/vendor/katex/katex.min.css")
    assert css.status == 200 and b"font-face" in css.body
    assert http("GET", server.url + "/vendor/pygments.css").status == 200


def test_index_page_lists_apis(server):
    r = http("GET", server.url + "/", headers={"Accept": "text/html"})
    assert r.status == 200
    page = r.body.decode()
    assert 'href="/ui/geo"' in page and 'href="/ui/plain"' in page
    assert "Geometry for the service tests." in page


def test_api_page_marks_yanked_and_has_forms(server):
    r = http("GET", server.url + "/ui/geo", headers={"Accept": "text/html"})
    assert r.status == 200
    page = r.body.decode()
    assert 'class="yanked" data-version="1.2.0"' in page
    assert "wrong units in cube" in page
    assert page.count('<form class="try-it"') == 11  # geo 1.1.0 exposes 11 functions
    assert 'data-url="/models/geo/1.1.0/scale"' in page
    yanked = http("GET", server.url + "/ui/geo/1.2.0", headers={"Accept": "text/html"}).body.decode()
    assert "This version is yanked: wrong units in cube" in yanked


@pytest.mark.parametrize("page", ["/", "/docs/geo/1"])
def test_pages_name_the_favicon_and_it_is_served(server, page):
    html = http("GET", server.url + page, headers={"Accept": "text/html"}).body.decode()
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
    assert icon, "the page names no favicon"
    svg = http("GET", server.url + icon.group(1))
    assert svg.status == 200 and svg.header("Content-Type") == "image/svg+xml" and b"<svg" in svg.body
    # Browsers that ignore the link ask for /favicon.ico.
    ico = http("GET", server.url + "/favicon.ico")
    assert ico.status == 200 and ico.body[:4] == b"\x00\x00\x01\x00"  # the ICO signature

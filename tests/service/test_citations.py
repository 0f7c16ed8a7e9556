"""Citations (docs/guide.md, section 2): the registry's bibliography, \\cite in notebooks, "cite this version".

Real CLI subprocesses, a real registry in tmp_path, the real service on an ephemeral port, the
loader in a fresh interpreter, and headless Chromium for the page screenshot.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse

import bibtexparser
import pytest
from nbfactory import code, markdown, notebook, to_bytes
from service_kit import Server, assert_error, http
from support import registry_state, run_cli

from gilgamesh.registry.store.tokens import create_token

REFS = r"""@book{chen2016,
  author    = {Chen, Francis F.},
  title     = {Introduction to Plasma Physics and Controlled Fusion},
  publisher = {Springer},
  year      = {2016},
  doi       = {10.1007/978-3-319-22309-4}
}

@book{hutchinson2002,
  author    = {Hutchinson, I. H. and M{\"u}ller, A. and Smith, B.},
  title     = {Principles of Plasma Diagnostics},
  publisher = {Cambridge University Press},
  year      = 2002
}
"""

DEBYE = '''def debye_length(n_e: float, T_e: float) -> float:
    """The electron Debye length.

    Parameters
    ----------
    n_e : float
        Electron density [m^-3].
    T_e : float
        Electron temperature [eV].

    Returns
    -------
    float
        The Debye length [m].
    """
    return (8.8541878128e-12 * T_e / (n_e * 1.602176634e-19)) ** 0.5
'''


def cited(version: str = "1.0.0", narrative: str = "") -> bytes:
    narrative = narrative or (
        "# Debye shielding\n\nThe Debye length $\\lambda_D$ \\citep{chen2016}, measured with probes as in "
        "\\cite{hutchinson2002}; both \\citep{chen2016, hutchinson2002}. In code, `\\cite{not_a_key}` stays.")
    return to_bytes(notebook("debye", version, [
        markdown(narrative),
        markdown("The Debye length of a plasma."),
        code(DEBYE),
    ], summary="Debye shielding.", authors=["Ada Lovelace", "Niels Bohr"], endpoints=["debye_length"]))


@pytest.fixture(scope="module")
def lab(tmp_path_factory, service_env):
    """A registry with the bibliography and one citing version, served."""
    work = tmp_path_factory.mktemp("citations")
    root = str(work / "registry")
    assert run_cli("init", "--registry", root).returncode == 0
    (work / "refs.bib").write_text(REFS)
    (work / "debye.ipynb").write_bytes(cited())
    added = run_cli("bib", "add", work / "refs.bib", "--registry", root, "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["added"] == ["chen2016", "hutchinson2002"]
    published = run_cli("publish", work / "debye.ipynb", "--registry", root)
    assert published.returncode == 0, published.stderr
    server = Server(root, model_workers=1, max_model_workers=1).start()
    server.work, server.root, server.token = work, root, create_token(root, "alice")
    yield server
    server.stop()


# -- the bibliography ------------------------------------------------------------------------------
def test_bib_add_merges_keeps_and_refuses_clashes(tmp_path):
    root = str(tmp_path / "registry")
    run_cli("init", "--registry", root)
    refs = tmp_path / "refs.bib"
    refs.write_text(REFS)
    first = run_cli("bib", "add", refs, "--registry", root)
    assert first.returncode == 0 and "2 added, 0 unchanged; the bibliography holds 2 entries" in first.stdout
    again = run_cli("bib", "add", refs, "--registry", root)
    assert "0 added, 2 unchanged" in again.stdout
    # Another entry under a key already there is refused, naming it; nothing is written.
    clash = tmp_path / "clash.bib"
    clash.write_text(REFS.replace("year      = {2016}", "year      = {2017}") + "@misc{new, title={New}}\n")
    before = registry_state(root)
    done = run_cli("bib", "add", clash, "--registry", root)
    assert done.returncode == 1
    assert "1 key already in the bibliography with another entry (add --replace" in done.stderr and "chen2016" in done.stderr
    assert registry_state(root) == before
    replaced = run_cli("bib", "add", clash, "--registry", root, "--replace", "--json")
    out = json.loads(replaced.stdout)
    assert (out["added"], out["replaced"], out["unchanged"], out["entries"]) == (["new"], ["chen2016"], ["hutchinson2002"], 3)
    listed = json.loads(run_cli("bib", "list", "--registry", root, "--json").stdout)["entries"]
    chen = next(e for e in listed if e["key"] == "chen2016")
    assert chen["label"] == "Chen 2017" and chen["url"] == "https://doi.org/10.1007/978-3-319-22309-4"
    hutch = next(e for e in listed if e["key"] == "hutchinson2002")
    assert hutch["label"] == "Hutchinson et al. 2002"
    assert hutch["text"].startswith("I. H. Hutchinson, A. Müller and B. Smith (2002). Principles of Plasma Diagnostics.")
    # Its history is git's: one commit per change.
    log = subprocess.run(["git", "-C", os.path.join(root, "store.git"), "log", "--format=%s", "bibliography"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert log[:2] == ["bib add clash.bib", "bib add refs.bib"]


@pytest.mark.parametrize("content, fragment", [
    ("@book{broken, title={No end}\n", "line 1: cannot parse '@book{broken, title={No end}'"),
    ("@misc{twice, title={a}}\n@misc{twice, title={b}}\n", "the key 'twice' is defined twice"),
    ("just some words\n", "it holds no BibTeX entry"),
])
def test_a_bad_bibtex_file_is_refused_naming_the_problem(tmp_path, content, fragment):
    root = str(tmp_path / "registry")
    run_cli("init", "--registry", root)
    bad = tmp_path / "bad.bib"
    bad.write_text(content)
    before = registry_state(root)
    done = run_cli("bib", "add", bad, "--registry", root)
    assert done.returncode == 1, done.stdout
    assert "bad.bib was refused" in done.stderr and fragment in done.stderr
    assert registry_state(root) == before
    missing = run_cli("bib", "add", tmp_path / "nope.bib", "--registry", root)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


# -- at publish -----------------------------------------------------------------------------------
def test_a_key_the_bibliography_lacks_is_named_at_publish(tmp_path):
    root = str(tmp_path / "registry")
    run_cli("init", "--registry", root)
    path = tmp_path / "debye.ipynb"
    path.write_bytes(cited())
    before = registry_state(root)
    done = run_cli("publish", path, "--registry", root)
    assert done.returncode == 1
    err = done.stderr
    assert "\\cite{chen2016}: the registry's bibliography has no entry 'chen2016'" in err
    assert "\\cite{hutchinson2002}" in err and "gilgamesh bib add refs.bib" in err
    assert "not_a_key" not in err  # code spans are not prose
    assert registry_state(root) == before
    # validate says the same, and a notebook without citations needs no bibliography at all.
    assert run_cli("validate", path, "--registry", root).returncode == 1


def test_the_version_keeps_the_entries_it_cited(lab):
    resolved = json.loads(run_cli("resolve", "debye@1", "--registry", lab.root, "--json").stdout)
    assert resolved["version"] == "1.0.0"
    index = http("GET", lab.url + "/api/notebooks/debye").json()
    references = index["versions"][0]["references"]
    assert list(references) == ["chen2016", "hutchinson2002"]  # in the order first cited
    assert references["chen2016"] == {
        "label": "Chen 2016", "url": "https://doi.org/10.1007/978-3-319-22309-4",
        "text": "Francis F. Chen (2016). Introduction to Plasma Physics and Controlled Fusion. Springer."}
    shown = run_cli("show", "debye@1.0.0", "--registry", lab.root)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())  # the terminal text is wrapped
    assert "(Chen 2016), measured with probes as in Hutchinson et al. 2002; both (Chen 2016; Hutchinson et al. 2002)" in text
    assert "References" in shown.stdout and "https://doi.org/10.1007/978-3-319-22309-4" in shown.stdout


# -- cite this version ------------------------------------------------------------------------------
def test_cite_prints_a_bibtex_entry_for_the_version(lab):
    done = run_cli("cite", "debye@1", "--registry", lab.root)
    assert done.returncode == 0, done.stderr
    library = bibtexparser.parse_string(done.stdout)
    assert not library.failed_blocks
    (entry,) = library.entries
    assert (entry.entry_type, entry.key) == ("software", "debye-1.0.0")
    fields = entry.fields_dict
    assert fields["title"].value == "debye 1.0.0: Debye shielding"
    assert fields["author"].value == "Ada Lovelace and Niels Bohr"
    assert fields["version"].value == "1.0.0"
    sha = json.loads(run_cli("resolve", "debye@1", "--registry", lab.root, "--json").stdout)["sha256"]
    assert sha in fields["note"].value
    # Over HTTP: the CLI against the service names the docs page; the route answers the same entry.
    over_http = json.loads(run_cli("cite", "debye@1.0", "--registry", lab.url, "--json").stdout)
    assert f"url     = {{{lab.url}/docs/debye/1.0.0}}" in over_http["bibtex"]
    route = http("GET", lab.url + "/api/notebooks/debye/1.0.0/citation")
    assert route.status == 200 and route.json()["bibtex"] == over_http["bibtex"]
    raw = http("GET", lab.url + "/api/notebooks/debye/1/citation?format=bibtex")
    assert raw.header("Content-Type").startswith("application/x-bibtex") and raw.body.decode() == over_http["bibtex"]
    assert_error(http("GET", lab.url + "/api/notebooks/debye/9/citation"), 404, "debye")
    assert run_cli("cite", "debye@9", "--registry", lab.root).returncode == 1


# -- over HTTP -------------------------------------------------------------------------------------
def test_bibliography_route_lists_entries_and_takes_bibtex_with_a_token(lab):
    listed = http("GET", lab.url + "/bibliography")
    assert listed.status == 200
    keys = [e["key"] for e in listed.json()["entries"]]
    assert keys[:2] == ["chen2016", "hutchinson2002"]
    page = http("GET", lab.url + "/bibliography", headers={"Accept": "text/html"})
    assert page.header("Content-Type").startswith("text/html")
    assert b'id="chen2016"' in page.body and b"https://doi.org/10.1007/978-3-319-22309-4" in page.body
    more = "@misc{langmuir1924, author={Langmuir, Irving and Mott-Smith, H.}, title={Studies of electric discharges}, year={1924}}"
    assert_error(http("POST", lab.url + "/bibliography", more), 401, "token")
    assert_error(http("POST", lab.url + "/bibliography", "@misc{x, title=", token=lab.token), 422, "refused", "line 1")
    done = http("POST", lab.url + "/bibliography", more, token=lab.token, headers={"Content-Type": "application/x-bibtex"})
    assert done.status == 200 and done.json()["added"] == ["langmuir1924"]
    # The CLI against the service: bib add and bib list go through the same routes.
    refs = lab.work / "more.bib"
    refs.write_text(more)
    again = run_cli("bib", "add", refs, "--registry", lab.url, env={"GILGAMESH_TOKEN": lab.token})
    assert again.returncode == 0 and "0 added, 1 unchanged" in again.stdout, again.stderr
    listed = json.loads(run_cli("bib", "list", "--registry", lab.url, "--json").stdout)["entries"]
    assert [e["label"] for e in listed if e["key"] == "langmuir1924"] == ["Langmuir and Mott-Smith 1924"]


def test_docs_page_links_citations_to_the_references(lab):
    page = http("GET", lab.url + "/docs/debye/1", headers={"Accept": "text/html"})
    body = page.body.decode()
    body = body.replace(' rel="noopener noreferrer nofollow"', "")  # the sanitizer's, on every link
    assert '(<a href="#ref-chen2016">Chen 2016</a>), measured' in body
    assert '(<a href="#ref-chen2016">Chen 2016</a>; <a href="#ref-hutchinson2002">Hutchinson et al. 2002</a>)' in body
    assert '<li id="ref-chen2016">' in body and '<a href="/bibliography#chen2016">BibTeX</a>' in body
    assert '<a href="https://doi.org/10.1007/978-3-319-22309-4">' in body
    assert "\\citep" not in body.split('id="api-reference"')[0].replace("\\cite{not_a_key}", "")


def test_jupyter_display_links_each_citation_to_its_entry(lab, tmp_path):
    script = (
        "import gilgamesh.api.debye.v1 as m\n"
        "print(m._repr_markdown_())\n"
    )
    env = {**os.environ, "GILGAMESH_REGISTRY": lab.url, "GILGAMESH_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    md = done.stdout
    assert "([Chen 2016](https://doi.org/10.1007/978-3-319-22309-4))" in md
    # An entry without a DOI or URL links to the registry's bibliography page.
    assert f"[Hutchinson et al. 2002]({lab.url}/bibliography#hutchinson2002)" in md
    assert "**References**" in md and "**Chen 2016**: Francis F. Chen (2016)." in md
    assert "`\\cite{not_a_key}`" in md


@pytest.mark.parametrize("where", ["service", "directory"])
def test_help_shows_citations_as_labels_with_the_references_below(lab, tmp_path, where):
    script = (
        "import pydoc\n"
        "import gilgamesh.api.debye.v1 as m\n"
        "print(pydoc.render_doc(m, renderer=pydoc.plaintext))\n"
        "print('=== markdown ===')\n"
        "print(m._repr_markdown_())\n"
    )
    registry = lab.url if where == "service" else lab.root
    env = {**os.environ, "GILGAMESH_REGISTRY": registry, "GILGAMESH_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    text, md = done.stdout.split("=== markdown ===")
    assert "The Debye length $\\lambda_D$ (Chen 2016), measured with probes as in Hutchinson et al. 2002" in text
    assert "both (Chen 2016; Hutchinson et al. 2002)" in text
    assert "\\citep" not in text and "\\cite{hutchinson2002}" not in text
    assert "`\\cite{not_a_key}` stays" in text  # code is not prose
    references = text[text.index("References\n"):]
    assert "Chen 2016: Francis F. Chen (2016). Introduction to Plasma Physics" in references
    assert "https://doi.org/10.1007/978-3-319-22309-4" in references
    assert "Hutchinson et al. 2002: " in references
    # Jupyter's display still links the citations written in the notebook.
    assert "([Chen 2016](https://doi.org/10.1007/978-3-319-22309-4))" in md


# -- in a real browser -------------------------------------------------------------------------------
@pytest.mark.browser
def test_page_screenshot_of_a_docstring_and_a_citation(lab, artifacts):
    from playwright.sync_api import sync_playwright

    from support import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(lab.url + "/docs/debye/1")
            page.wait_for_selector("#notebook[data-math-rendered='true']", timeout=20000)
            link = page.locator("#notebook a[href='#ref-chen2016']").first
            assert link.is_visible() and link.inner_text() == "Chen 2016"
            # The docstring's parameters are a definition list, not numpydoc's underlined headings.
            member = page.locator("#api-debye_length")
            assert member.locator("dt").first.inner_text().startswith("n_e")
            assert "----------" not in member.inner_text()
            page.screenshot(path=os.path.join(artifacts, "docs-docstring-and-citation.png"), full_page=True)
            link.click()
            assert urllib.parse.urlsplit(page.url).fragment == "ref-chen2016"
            assert page.locator("#ref-chen2016").inner_text().startswith("Chen 2016")
            assert not errors
        finally:
            browser.close()
    assert os.path.getsize(os.path.join(artifacts, "docs-docstring-and-citation.png")) > 10_000

"""A day at the lab: its own notebooks (api_notebooks/) through every path at once.

Site A is seeded as ``make seed`` seeds a registry. Site B starts empty and syncs from A over
``git://`` (a real ``git daemon``), site B2 over smart HTTP (a real ``git http-backend``). At B:
the versions and the bibliography are A's; a script under a ``gilgamesh.lock`` imports the
locked versions; ``gilgamesh serve`` answers a model call, its bibliography and the docs with
A's citations (and B2 publishes a lab note citing A's entries, rendered in its docs and in
help()); a Dask worker with the preload runs a lab function. Then B publishes a compatible
patch of plasma (replayed against the golden calls A recorded) and is refused one whose result
changed; A syncs it back; a yank and bibliography entries made at A reach B, ``--push`` carries
B's entries to A, and a key defined differently at both sides is a conflict that keeps B's entry.

Every command is a real ``python -m gilgamesh`` subprocess. The stages of the day are
module-scoped fixtures, each building on the one before (``stage_synced`` -> ``stage_locked``
-> ``stage_patched`` -> ``stage_synced_back`` -> ``stage_yanked`` -> ``stage_pushed`` ->
``stage_conflict``); a test asks for the stage whose state it checks and reads it as it is then
(the tests are in the day's order, which pytest keeps within a process, with xdist too).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import types

import pytest
from git_remotes import git_daemon, smart_http
from lab_day_kit import (
    AMU, E, EPS0, LAB_APIS, LAB_VERSIONS, NOTEBOOKS, DaskCluster, cell_text, clean_env, copy_registry, debye_length,
    gilgamesh_cli, http, ok_json, read_notebook, serving, write_notebook,
)

# One site history per process: under `pytest -n N --dist loadgroup` the whole day runs in one worker
# (with plain -n N, each worker that gets some of these tests seeds and builds the sites it needs).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("lab-day")]

YANK_REASON = "wrong sheath-edge constant in the lab-day check (yanked at A)"
DEPRECATION = "use langmuir@1.2 (deprecated at A)"

AT_A_AFTER_SYNC = r"""@book{tonks1929,
  author  = {Tonks, Lewi and Langmuir, Irving},
  title   = {A General Theory of the Plasma of an Arc},
  journal = {Physical Review},
  volume  = {34},
  pages   = {876--922},
  year    = {1929},
  doi     = {10.1103/PhysRev.34.876}
}
"""
AT_B_TO_PUSH = r"""@article{lieberman1994,
  author  = {Lieberman, M. A. and Lichtenberg, A. J.},
  title   = {Principles of Plasma Discharges and Materials Processing},
  journal = {MRS Bulletin},
  volume  = {19},
  year    = {1994}
}
"""
# The same key at both sides, defined differently (A's and B's copies of the formulary).
CLASH_AT_A = r"""@techreport{huba2019,
  author      = {Huba, J. D.},
  title       = {NRL Plasma Formulary},
  institution = {Naval Research Laboratory},
  year        = {2019}
}

@article{langmuir1928,
  author  = {Langmuir, Irving},
  title   = {Oscillations in Ionized Gases},
  journal = {Proceedings of the National Academy of Sciences},
  volume  = {14},
  pages   = {627--637},
  year    = {1928},
  doi     = {10.1073/pnas.14.8.627}
}
"""
CLASH_AT_B = r"""@techreport{huba2019,
  author      = {Huba, J. D.},
  title       = {NRL Plasma Formulary (B's printed 2018 revision)},
  institution = {Naval Research Laboratory},
  year        = {2018}
}
"""


# -- the sites -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab(lab_seed, tmp_path_factory):
    """A (a copy of the seeded registry) under ``sites/``, served by a git daemon and smart HTTP."""
    work = tmp_path_factory.mktemp("lab-day")
    sites = work / "sites"
    sites.mkdir()
    a = copy_registry(lab_seed["root"], str(sites / "A"))
    with git_daemon(str(sites)) as daemon, smart_http(str(sites)) as web:
        ns = types.SimpleNamespace(work=work, sites=sites, a=a, b=str(sites / "B"), b2=str(sites / "B2"),
                                   cache=str(work / "cache"), daemon=daemon, web=web)
        ns.git_url = lambda site: f"{daemon}/{site}/store.git"
        ns.http_url = lambda site: f"{web}/{site}/store.git"
        ns.cli = lambda *args, user="tester", **kw: gilgamesh_cli(*args, cache=ns.cache, user=user, **kw)
        yield ns


def versions(lab, site: str, name: str) -> list[dict]:
    return ok_json(lab.cli("versions", name, "--registry", site, "--json"))


def bibliography(lab, site: str) -> dict[str, dict]:
    rows = ok_json(lab.cli("bib", "list", "--registry", site, "--json"))["entries"]
    return {row["key"]: row for row in rows}


def write_bib(lab, name: str, text: str) -> str:
    path = lab.work / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def sync_report(done: subprocess.CompletedProcess) -> dict:
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"sync printed no JSON report (exit {done.returncode}):\n"
                             f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}") from None


# -- the stages of the day -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stage_synced(lab):
    """B (empty) synced from A over git://, B2 (empty) over smart HTTP: the sync commands' output."""
    out = {}
    for site, url in ((lab.b, lab.git_url("A")), (lab.b2, lab.http_url("A"))):
        created = lab.cli("init", "--registry", site)
        assert created.returncode == 0, created.stderr
        out[site] = lab.cli("sync", url, "--registry", site, "--json", user=os.path.basename(site))
    return out


@pytest.fixture(scope="module")
def stage_locked(lab, stage_synced):
    """A script at B importing the lab's APIs, and the ``gilgamesh lock`` written beside it."""
    project = lab.work / "analysis"
    project.mkdir()
    script = project / "probe_analysis.py"
    script.write_text(LOCKED_SCRIPT, encoding="utf-8")
    locked = lab.cli("lock", script, "--registry", lab.b, "--json")
    return types.SimpleNamespace(dir=str(project), script=str(script), lock=str(project / "gilgamesh.lock"),
                                 done=locked)


@pytest.fixture(scope="module")
def stage_patched(lab, stage_locked):
    """At B: plasma 1.1.1 (fork of plasma@1.1, a markdown edit, run, publish), then a 1.1.2 whose
    debye_length returns 1 % more (fork, code edit, run, publish): the commands' output."""
    work = lab.work / "working-copies"
    work.mkdir()
    good = str(work / "plasma-patch.ipynb")
    s = types.SimpleNamespace(good_path=good)
    s.fork = ok_json(lab.cli("fork", "plasma@1.1", good, "--bump", "patch", "--registry", lab.b, "--json"))
    nb = read_notebook(good)
    changelog = [c for c in nb["cells"] if c["cell_type"] == "markdown" and "## Changelog" in cell_text(c)]
    assert len(changelog) == 1, "plasma 1.1's notebook has one Changelog cell"
    changelog[0]["source"] = cell_text(changelog[0]).replace(
        "## Changelog\n", "## Changelog\n\n- **1.1.1**: the lab-day patch: wording only, the numbers are 1.1.0's.\n", 1)
    write_notebook(good, nb)
    s.run = lab.cli("run", good, "--registry", lab.b, "--json", timeout=600)
    s.publish = lab.cli("publish", "--registry", lab.b, good, "--json", user="bob@B", timeout=600)

    bad = str(work / "plasma-changed.ipynb")
    s.bad_path = bad
    s.bad_fork = ok_json(lab.cli("fork", "plasma@1.1", bad, "--bump", "patch", "--registry", lab.b, "--json"))
    nb = read_notebook(bad)
    old = "return _result(np.sqrt(_EPS0 * T / (_E * n)))"
    (cell,) = [c for c in nb["cells"] if c["cell_type"] == "code" and "def debye_length" in cell_text(c)]
    assert old in cell_text(cell), "plasma's debye_length is written as this test expects"
    cell["source"] = cell_text(cell).replace(old, "return _result(1.01 * np.sqrt(_EPS0 * T / (_E * n)))")
    write_notebook(bad, nb)
    s.bad_run = lab.cli("run", bad, "--registry", lab.b, "--json", timeout=600)
    s.bad_publish = lab.cli("publish", "--registry", lab.b, bad, user="bob@B", timeout=600)
    return s


@pytest.fixture(scope="module")
def stage_synced_back(lab, stage_patched):
    """A syncs from B (over git://): B's patch goes back to A."""
    return lab.cli("sync", lab.git_url("B"), "--registry", lab.a, "--json", user="alice@A")


@pytest.fixture(scope="module")
def stage_yanked(lab, stage_synced_back):
    """At A: plasma 1.0.0 yanked, an entry added to the bibliography; then B syncs from A."""
    s = types.SimpleNamespace()
    s.yank = lab.cli("yank", "plasma@1.0.0", "--reason", YANK_REASON, "--registry", lab.a, user="alice@A")
    s.bib_add = lab.cli("bib", "add", write_bib(lab, "tonks.bib", AT_A_AFTER_SYNC), "--registry", lab.a, user="alice@A")
    s.sync = lab.cli("sync", lab.git_url("A"), "--registry", lab.b, "--json", user="bob@B")
    return s


@pytest.fixture(scope="module")
def stage_pushed(lab, stage_yanked):
    """At B: an entry added; then B syncs with A with ``--push``."""
    s = types.SimpleNamespace()
    s.bib_add = lab.cli("bib", "add", write_bib(lab, "bohm.bib", AT_B_TO_PUSH), "--registry", lab.b, user="bob@B")
    s.sync = lab.cli("sync", lab.git_url("A"), "--push", "--registry", lab.b, "--json", user="bob@B")
    return s


@pytest.fixture(scope="module")
def stage_conflict(lab, stage_pushed):
    """huba2019 defined at A and, differently, at B; A also adds langmuir1928 and deprecates
    langmuir@1.0.0; then B syncs from A (text output, to read what it says)."""
    s = types.SimpleNamespace()
    s.bib_a = lab.cli("bib", "add", write_bib(lab, "clash-a.bib", CLASH_AT_A), "--registry", lab.a, user="alice@A")
    s.bib_b = lab.cli("bib", "add", write_bib(lab, "clash-b.bib", CLASH_AT_B), "--registry", lab.b, user="bob@B")
    s.deprecate = lab.cli("deprecate", "langmuir@1.0.0", "--message", DEPRECATION, "--registry", lab.a, user="alice@A")
    s.bibliography_b_before = bibliography(lab, lab.b)
    s.sync = lab.cli("sync", lab.git_url("A"), "--registry", lab.b, user="bob@B")
    return s


# -- 1. B and B2 hold what A holds -----------------------------------------------------------------
def test_b_synced_over_git_daemon_and_b2_over_smart_http_hold_every_version_and_the_bibliography(lab, stage_synced):
    expected = {}
    for name, version in LAB_VERSIONS:
        expected.setdefault(name, set()).add(version)
    a_bib = bibliography(lab, lab.a)
    with open(os.path.join(NOTEBOOKS, "references.bib"), encoding="utf-8") as f:
        in_file = set(re.findall(r"^@\w+\{([^,\s]+),", f.read(), re.M))
    assert set(a_bib) == in_file and {"chen2016", "hutchinson2002", "merlino2007"} <= set(a_bib), sorted(a_bib)
    a_listed = ok_json(lab.cli("bib", "list", "--registry", lab.a, "--json"))
    for site, label in ((lab.b, "git://"), (lab.b2, "smart HTTP")):
        done = stage_synced[site]
        report = sync_report(done)
        assert done.returncode == 0 and report["ok"], (label, report, done.stderr[-2000:])
        assert report["refused"] == [] and report["conflicts"] == [], (label, report)
        assert {n: set(v) for n, v in report["adopted"].items()} == expected, (label, report["adopted"])
        for name in LAB_APIS:
            assert versions(lab, site, name) == versions(lab, lab.a, name), (label, name)
        # The bibliography: every entry of A's, as A has it, in text and in JSON.
        assert ok_json(lab.cli("bib", "list", "--registry", site, "--json")) == a_listed, label
        listed = lab.cli("bib", "list", "--registry", site)
        assert listed.returncode == 0, listed.stderr
        for key, entry in a_bib.items():
            assert any(line.split(None, 1) == [key, entry["text"]] for line in listed.stdout.splitlines()), \
                (label, key, listed.stdout[:2000])


# -- 2. the service at B -----------------------------------------------------------------------------
def test_serve_at_b_answers_model_calls_and_lists_a_bibliography(lab, stage_synced):
    chosen = ok_json(lab.cli("resolve", "plasma@1", "--registry", lab.b, "--json"))["version"]
    a_bib = bibliography(lab, lab.a)
    with serving(lab.b, lab.cache, str(lab.work / "serve-b")) as url:
        r = http("POST", f"{url}/models/plasma/1/debye_length", {"T_e": 3.0, "n_e": 1e17})
        assert r.status == 200, (r.status, r.body[:2000])
        body = r.json()
        assert set(body) == {"result", "name", "version"}, body
        assert (body["name"], body["version"]) == ("plasma", chosen)
        assert body["result"] == pytest.approx(debye_length(3.0, 1e17), rel=1e-12)
        # langmuir's ion_density goes through plasma's bohm_velocity (a dependency, at B too).
        r = http("POST", f"{url}/models/langmuir/1.2/ion_density",
                 {"I_sat": 1e-4, "T_e": 3.0, "area": 1e-5, "ion_mass_amu": 39.948})
        assert r.status == 200, (r.status, r.body[:2000])
        u_b = math.sqrt(E * 3.0 / (39.948 * AMU))
        assert r.json() == {"result": pytest.approx(1e-4 / (0.61 * E * 1e-5 * u_b), rel=1e-12),
                            "name": "langmuir", "version": "1.2.0"}

        listed = http("GET", f"{url}/bibliography")
        assert listed.status == 200, listed.body[:2000]
        served = {e["key"]: e for e in listed.json()["entries"]}
        assert sorted(served) == sorted(a_bib)
        assert all(served[k]["label"] == a_bib[k]["label"] for k in a_bib)
        page = http("GET", f"{url}/bibliography", headers={"Accept": "text/html"})
        assert page.status == 200 and all(f'id="{k}"' in page.text() for k in a_bib)


def rendered_citations(html: str, references: dict, a_bib: dict) -> None:
    """Each reference linked to the page's References list, with A's label; no raw \\cite left."""
    html = html.replace(' rel="noopener noreferrer nofollow"', "")  # the sanitizer's, on every link
    for key, ref in references.items():
        assert ref["label"] == a_bib[key]["label"], key
        assert f'<a href="#ref-{key}">{ref["label"]}</a>' in html, key
        assert f'<li id="ref-{key}">' in html and f'<a href="/bibliography#{key}">BibTeX</a>' in html, key
    assert "\\cite" not in html.split('id="api-reference"')[0]


def help_text(lab, site: str, module: str) -> str:
    """``help(module)`` as a fresh interpreter with GILGAMESH_REGISTRY=site prints it."""
    script = f"import pydoc\nimport {module} as m\nprint(pydoc.render_doc(m, renderer=pydoc.plaintext))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env=clean_env(str(lab.work / "cache-help"), GILGAMESH_REGISTRY=site))
    assert done.returncode == 0, done.stderr[-3000:]
    return " ".join(done.stdout.split())  # pydoc wraps and indents


def test_docs_of_langmuir_2_1_at_b_render_a_citations(lab, stage_synced):
    langmuir = ok_json(lab.cli("resolve", "langmuir@2.1", "--registry", lab.a, "--json"))["version"]
    a_bib = bibliography(lab, lab.a)
    with serving(lab.b, lab.cache, str(lab.work / "serve-b-docs")) as url:
        index = http("GET", f"{url}/api/notebooks/langmuir")
        assert index.status == 200, index.body[:2000]
        (entry,) = [v for v in index.json()["versions"] if v["version"] == langmuir]
        page = http("GET", f"{url}/docs/langmuir/2.1", headers={"Accept": "text/html"})
    assert page.status == 200 and page.header("Content-Type").startswith("text/html"), page.status
    assert f"langmuir@{langmuir}" in page.text()
    # A's citations: what langmuir@2.1's markdown cites, as A's bibliography had it at publish.
    references = entry.get("references") or {}
    assert references, (f"langmuir@2.1 ({langmuir}) cites no entry of the bibliography: no \\cite or \\citep "
                        "in its markdown, so its docs have no citation to render")
    rendered_citations(page.text(), references, a_bib)
    text = help_text(lab, lab.b, "gilgamesh.api.langmuir.v2_1")
    assert "\\cite" not in text and all(ref["label"] in text for ref in references.values())


NOTE_NARRATIVE = (
    "# Lab note: shielding\n\nA test charge is screened within a Debye length \\citep{chen2016}, which "
    "probes measure as in \\cite{hutchinson2002}; both \\citep{chen2016, hutchinson2002}.")
NOTE_CODE = '''from gilgamesh.api.plasma@1 import debye_length


def shielding_length(T_e: float, n_e: float) -> float:
    """The length over which a test charge is screened [m].

    Parameters
    ----------
    T_e : float
        Electron temperature [eV].
    n_e : float
        Electron density [m^-3].

    Returns
    -------
    float
        plasma's electron Debye length, in metres.
    """
    return debye_length(T_e, n_e)
'''


def test_a_note_citing_a_entries_publishes_at_b2_and_renders_them_in_docs_and_help(lab, stage_synced):
    from nbfactory import code, markdown, notebook, to_bytes

    note = lab.work / "lab-note.ipynb"
    note.write_bytes(to_bytes(notebook("labnote", "1.0.0", [markdown(NOTE_NARRATIVE), code(NOTE_CODE)],
                                       summary="Shielding, citing the lab's bibliography.",
                                       authors=["Gilgamesh plasma lab"], endpoints=["shielding_length"])))
    published = lab.cli("publish", "--registry", lab.b2, note, "--json", user="carol@B2", timeout=600)
    out = json.loads(published.stdout) if published.stdout.strip() else {}
    # The keys resolve against the bibliography B2 has from A (a sync without it refuses the publish).
    assert published.returncode == 0, (published.stderr[-3000:], out)
    a_bib = bibliography(lab, lab.a)
    with serving(lab.b2, lab.cache, str(lab.work / "serve-b2")) as url:
        index = http("GET", f"{url}/api/notebooks/labnote")
        assert index.status == 200, index.body[:2000]
        references = index.json()["versions"][0]["references"]
        assert list(references) == ["chen2016", "hutchinson2002"], references
        page = http("GET", f"{url}/docs/labnote/1", headers={"Accept": "text/html"})
        assert page.status == 200, page.status
        html = page.text().replace(' rel="noopener noreferrer nofollow"', "")
        rendered_citations(html, references, a_bib)
        assert f'(<a href="#ref-chen2016">{a_bib["chen2016"]["label"]}</a>; ' \
               f'<a href="#ref-hutchinson2002">{a_bib["hutchinson2002"]["label"]}</a>)' in html
        r = http("POST", f"{url}/models/labnote/1/shielding_length", {"T_e": 3.0, "n_e": 1e17})
        assert r.status == 200 and r.json()["result"] == pytest.approx(debye_length(3.0, 1e17), rel=1e-12), r.body
    text = help_text(lab, lab.b2, "gilgamesh.api.labnote.v1")
    assert "\\cite" not in text, text[:3000]
    assert f'({a_bib["chen2016"]["label"]})' in text and a_bib["hutchinson2002"]["label"] in text, text[:3000]


# -- 3. a Dask worker with the preload -----------------------------------------------------------
DASK_CLIENT = """
import json, os, sys
from distributed import Client
from gilgamesh.api.plasma.v1 import debye_length


def where(module):
    import os, sys
    m = sys.modules[module]  # imported on the worker by the tasks above
    return {"pid": os.getpid(), "module": module, "version": m.__version__, "sha256": m.__spec__.loader_state.sha256}


with Client(sys.argv[1], timeout=60) as client:
    client.wait_for_workers(1, timeout=120)
    T_e, n_e = [3.0, 4.0, 20.0], [1e16, 1e19, 1e19]
    results = client.gather(client.map(debye_length, T_e, n_e))
    # The function pickles by reference to the exact version's module (gilgamesh.api.plasma.v1_1_0).
    worker = client.submit(where, debye_length.__module__, pure=False).result()
local = sys.modules[debye_length.__module__]
print(json.dumps({"results": results, "worker": worker, "client_pid": os.getpid(),
                  "local": {"module": local.__name__, "version": local.__version__,
                            "sha256": local.__spec__.loader_state.sha256}}))
"""


def test_a_dask_worker_started_with_the_preload_runs_a_lab_function_from_b(lab, stage_synced):
    work = lab.work / "dask"
    work.mkdir()
    cluster = DaskCluster(str(work), lab.b)
    try:
        done = subprocess.run([sys.executable, "-c", DASK_CLIENT, cluster.address], capture_output=True, text=True,
                              timeout=300, env=clean_env(str(work / "cache-client"), GILGAMESH_REGISTRY=lab.b))
        assert done.returncode == 0, f"{done.stderr[-3000:]}\nworker log:\n{cluster.log('worker')}"
        out = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        cluster.stop()
    assert out["results"] == [pytest.approx(debye_length(T, n), rel=1e-12)
                              for T, n in ((3.0, 1e16), (4.0, 1e19), (20.0, 1e19))]
    # It ran in the worker's process, which imported the version B resolves, the same bytes.
    assert out["worker"]["pid"] != out["client_pid"]
    assert out["worker"]["module"] == out["local"]["module"]
    assert out["worker"]["version"] == out["local"]["version"] == "1.1.0"
    assert out["worker"]["sha256"] == out["local"]["sha256"] == \
        next(v["sha256"] for v in versions(lab, lab.a, "plasma") if v["version"] == "1.1.0")


# -- 4. a locked analysis at B ----------------------------------------------------------------------
LOCKED_SCRIPT = '''"""A lab analysis: one probe characteristic, with the lab's APIs."""
import json
import sys

import numpy as np

from gilgamesh.api.langmuir.v1 import analyze, synthetic_iv
from gilgamesh.api.plasma.v1 import debye_length

V = np.linspace(-40.0, 15.0, 551)
I = synthetic_iv(V, 1e17, 3.0, 5.0, 1e-5, 39.948)
result = analyze(V, I, 1e-5, 39.948)


def loaded(name):
    module = sys.modules[name]
    return {"version": module.__version__, "sha256": module.__spec__.loader_state.sha256}


print(json.dumps({"langmuir": loaded("gilgamesh.api.langmuir.v1"), "plasma": loaded("gilgamesh.api.plasma.v1"),
                  "T_e": float(result["T_e"]), "n_e": float(result["n_e"]), "debye": debye_length(3.0, 1e17)}))
'''


def run_locked(lab, locked, lock: bool, cache_name: str) -> dict:
    """The script in a fresh interpreter, cwd at the lock's directory, GILGAMESH_REGISTRY=B; with
    ``lock=False`` the lock is switched off (GILGAMESH_LOCK empty)."""
    env = clean_env(str(lab.work / cache_name), GILGAMESH_REGISTRY=lab.b)
    if lock:
        del env["GILGAMESH_LOCK"]  # the gilgamesh.lock of the working directory is the one in force
    done = subprocess.run([sys.executable, locked.script], capture_output=True, text=True, timeout=300,
                          cwd=locked.dir, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_script_under_a_lock_at_b_imports_the_locked_versions(lab, stage_locked):
    doc = ok_json(stage_locked.done)
    assert os.path.isfile(stage_locked.lock)
    with open(stage_locked.lock, encoding="utf-8") as f:
        assert json.load(f)["packages"] == doc["packages"]
    assert doc["requested"] == {"langmuir@1": "1.2.0", "plasma@1": "1.1.0"}, doc["requested"]
    packages = {(p["name"], p["version"]): p["sha256"] for p in doc["packages"]}
    a_sha = {(n, v["version"]): v["sha256"] for n in LAB_APIS for v in versions(lab, lab.a, n)}
    assert packages == {("langmuir", "1.2.0"): a_sha[("langmuir", "1.2.0")],
                        ("plasma", "1.1.0"): a_sha[("plasma", "1.1.0")]}, packages
    out = run_locked(lab, stage_locked, lock=True, cache_name="cache-locked")
    assert out["langmuir"] == {"version": "1.2.0", "sha256": packages[("langmuir", "1.2.0")]}
    assert out["plasma"] == {"version": "1.1.0", "sha256": packages[("plasma", "1.1.0")]}
    assert out["T_e"] == pytest.approx(3.0, rel=1e-6) and out["n_e"] == pytest.approx(1e17, rel=1e-6)
    assert out["debye"] == pytest.approx(debye_length(3.0, 1e17), rel=1e-12)


# -- 5. patches of plasma at B ------------------------------------------------------------------------
def test_a_compatible_patch_at_b_replays_a_golden_calls_and_a_changed_result_is_refused(lab, stage_locked, stage_patched):
    s = stage_patched
    assert (s.fork["from"], s.fork["version"]) == ("1.1.0", "1.1.1"), s.fork
    assert s.run.returncode == 0, s.run.stderr[-3000:]
    out = json.loads(s.publish.stdout) if s.publish.stdout.strip() else {}
    assert s.publish.returncode == 0, (s.publish.stderr[-3000:], out)
    (result,) = out["results"]
    assert (result["ok"], result["created"], result["name"], result["version"]) == (True, True, "plasma", "1.1.1")
    replayed = result["behaviour"].get("replayed") or {}
    assert replayed.get("version") == "1.1.0" and replayed.get("calls", 0) > 0, result["behaviour"]
    assert replayed.get("missing") == 0 and not result["behaviour"].get("differences"), result["behaviour"]
    # The golden calls replayed are the ones A recorded when it published 1.1.0 (they came with the sync).
    a_tree = subprocess.run(["git", "--git-dir", os.path.join(lab.a, "store.git"), "show",
                             "refs/tags/plasma/v1.1.0:golden.json"], capture_output=True, text=True)
    if a_tree.returncode == 0:
        assert replayed["calls"] == len(json.loads(a_tree.stdout)["calls"])
    b_versions = {v["version"]: v for v in versions(lab, lab.b, "plasma")}
    assert b_versions["1.1.1"]["sha256"] == result["sha256"]

    # A patch whose debye_length returns 1 % more is refused, naming the function and both results.
    assert (s.bad_fork["from"], s.bad_fork["version"]) == ("1.1.1", "1.1.2"), s.bad_fork
    assert s.bad_run.returncode == 0, s.bad_run.stderr[-3000:]
    assert s.bad_publish.returncode == 1, (s.bad_publish.stdout[-2000:], s.bad_publish.stderr[-2000:])
    message = s.bad_publish.stderr
    assert "plasma@1.1.2 was refused" in message and "debye_length" in message, message
    numbers = [float(x) for x in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?:e[+-]?\d+)?", message)]

    def named(value):
        return any(math.isclose(x, value, rel_tol=1e-3) for x in numbers)

    golden = [(3.0, 1e16), (4.0, 1e19), (20.0, 1e19)]  # the debye_length calls of plasma's examples
    pairs = [(math.sqrt(EPS0 * T / (E * n)),) for T, n in golden]
    assert any(named(old) and named(1.01 * old) for (old,) in pairs), message
    assert "1.1.2" not in {v["version"] for v in versions(lab, lab.b, "plasma")}

    # The analysis locked before 1.1.1 existed keeps 1.1.0; without the lock, plasma@1 is 1.1.1.
    assert run_locked(lab, stage_locked, lock=True, cache_name="cache-locked")["plasma"]["version"] == "1.1.0"
    assert run_locked(lab, stage_locked, lock=False, cache_name="cache-unlocked")["plasma"]["version"] == "1.1.1"


# -- 6. back to A ---------------------------------------------------------------------------------------
def test_a_syncs_the_patch_back_from_b(lab, stage_patched, stage_synced_back):
    report = sync_report(stage_synced_back)
    assert stage_synced_back.returncode == 0 and report["ok"], (report, stage_synced_back.stderr[-2000:])
    assert report["adopted"] == {"plasma": ["1.1.1"]}, report
    at_a = {v["version"]: v for v in versions(lab, lab.a, "plasma")}
    at_b = {v["version"]: v for v in versions(lab, lab.b, "plasma")}
    assert sorted(at_a) == ["1.0.0", "1.1.0", "1.1.1"]
    assert at_a["1.1.1"] == at_b["1.1.1"]
    assert ok_json(lab.cli("resolve", "plasma@1.1", "--registry", lab.a, "--json"))["version"] == "1.1.1"


# -- 7. a yank and an entry made at A reach B ---------------------------------------------------------
def test_a_yank_and_a_new_entry_at_a_reach_b_on_the_next_sync(lab, stage_yanked):
    s = stage_yanked
    assert s.yank.returncode == 0, s.yank.stderr
    assert s.bib_add.returncode == 0, s.bib_add.stderr
    report = sync_report(s.sync)
    assert s.sync.returncode == 0 and report["ok"], (report, s.sync.stderr[-2000:])
    assert "plasma@1.0.0" in report["records"], report
    (old,) = [v for v in versions(lab, lab.b, "plasma") if v["version"] == "1.0.0"]
    assert (old["yanked"], old["yank_reason"]) == (True, YANK_REASON), old
    assert versions(lab, lab.b, "plasma") == versions(lab, lab.a, "plasma")
    at_b = bibliography(lab, lab.b)
    assert "tonks1929" in at_b and at_b["tonks1929"] == bibliography(lab, lab.a)["tonks1929"]
    assert at_b["tonks1929"]["label"] == "Tonks and Langmuir 1929"


# -- 8. the bibliography both ways, and a conflict ------------------------------------------------------
def test_sync_push_carries_b_bibliography_entries_to_a(lab, stage_pushed):
    s = stage_pushed
    assert s.bib_add.returncode == 0, s.bib_add.stderr
    report = sync_report(s.sync)
    assert s.sync.returncode == 0 and report["ok"], (report, s.sync.stderr[-2000:])
    at_a, at_b = bibliography(lab, lab.a), bibliography(lab, lab.b)
    assert "lieberman1994" in at_a, sorted(at_a)
    assert at_a["lieberman1994"] == at_b["lieberman1994"]
    assert at_a == at_b  # nothing else differs: each side holds every entry of the other
    assert lab.cli("bib", "list", "--registry", lab.a).stdout.count("lieberman1994") == 1


def test_a_key_defined_differently_at_both_sides_is_a_conflict_after_the_rest_synced(lab, stage_conflict):
    s = stage_conflict
    for step in (s.bib_a, s.bib_b, s.deprecate):
        assert step.returncode == 0, step.stderr
    done = s.sync
    said = done.stdout + done.stderr
    assert done.returncode == 1, said[-3000:]
    assert "huba2019" in done.stderr and "conflict" in done.stderr.lower(), said[-3000:]
    at_b, at_a = bibliography(lab, lab.b), bibliography(lab, lab.a)
    # This side's entry kept; A's kept at A.
    assert at_b["huba2019"] == s.bibliography_b_before["huba2019"]
    assert at_b["huba2019"]["fields"]["year"] == "2018" and at_a["huba2019"]["fields"]["year"] == "2019"
    # The rest synced: A's other new entry and its deprecation.
    assert "langmuir1928" in at_b and at_b["langmuir1928"] == at_a["langmuir1928"]
    (first,) = [v for v in versions(lab, lab.b, "langmuir") if v["version"] == "1.0.0"]
    assert (first["deprecated"], first["deprecation_message"]) == (True, DEPRECATION), first
    # Every key of A's is at B, and B's own entries are still there.
    assert set(at_a) <= set(at_b) and {"lieberman1994", "tonks1929"} <= set(at_b)


# -- 9. a misread setting stops every path at the site, and nothing is written ------------------------
def test_a_misspelled_setting_at_b_is_refused_by_sync_serve_and_publish_then_fixed(lab, stage_conflict):
    settings = os.path.join(lab.b, "settings.json")
    with open(settings, encoding="utf-8") as f:
        good = f.read()
    refs_before = subprocess.run(["git", "--git-dir", os.path.join(lab.b, "store.git"), "for-each-ref"],
                                 capture_output=True, text=True, check=True).stdout
    with open(settings, "w", encoding="utf-8") as f:
        json.dump({**json.loads(good), "publisher": ["bob@B"]}, f)  # meant: publishers
    try:
        for args in (("sync", lab.git_url("A")), ("versions", "plasma"), ("serve", "--port", "0")):
            done = lab.cli(*args, "--registry", lab.b, user="bob@B", timeout=120)
            assert done.returncode == 1, (args, done.stdout[-1000:], done.stderr[-1000:])
            assert "'publisher' is not a setting (did you mean 'publishers'?)" in done.stderr, (args, done.stderr)
            assert settings in done.stderr
        assert subprocess.run(["git", "--git-dir", os.path.join(lab.b, "store.git"), "for-each-ref"],
                              capture_output=True, text=True, check=True).stdout == refs_before
    finally:
        with open(settings, "w", encoding="utf-8") as f:
            f.write(good)
    assert lab.cli("versions", "plasma", "--registry", lab.b).returncode == 0

"""The lab's API notebooks meet the notebook contract and pass the publish pipeline in order."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest

from gilgamesh.errors import PublishRefused
from gilgamesh.notebook import parse_notebook
from gilgamesh.registry.compat.semver import diff_snapshots, required_bump
from gilgamesh.registry.surface.snapshot import api_snapshot
from lab_notebooks import FORKED, NOTEBOOKS, PUBLISH_ORDER, PUBLISHED, add_lab_bibliography, read_notebook

LABELS = [f"{n}@{v}" for n, v in PUBLISH_ORDER]
MAX_PNG_BYTES = 80_000


def read(name: str, version: str) -> bytes:
    return read_notebook(name, version)


def snapshot(name: str, version: str) -> dict:
    return api_snapshot(parse_notebook(read(name, version)))


def test_the_directory_holds_exactly_the_published_versions():
    found = sorted(
        (name, f[:-6]) for name in os.listdir(NOTEBOOKS) if os.path.isdir(os.path.join(NOTEBOOKS, name))
        for f in os.listdir(os.path.join(NOTEBOOKS, name)) if f.endswith(".ipynb")
    )
    assert found == sorted(PUBLISH_ORDER)


def test_the_lab_bibliography_parses_and_holds_every_key_the_notebooks_cite():
    from gilgamesh.documentation.citations import cited_keys
    from gilgamesh.registry.store.bibliography import parse_bibtex

    with open(os.path.join(NOTEBOOKS, "references.bib"), encoding="utf-8") as f:
        entries = parse_bibtex(f.read(), "references.bib")
    assert {"chen2016", "hutchinson2002", "mott-smith1926", "merlino2007", "chen1991"} <= set(entries)
    # Every article and book links to its DOI (a chapter of 1949 has none: it links to the registry's page).
    assert all(e["url"] for e in entries.values() if e["type"] in ("article", "book"))
    cited = {key for name, version in PUBLISH_ORDER for cell in parse_notebook(read(name, version)).cells
             if cell.kind == "markdown" for key in cited_keys(cell.source)}
    assert cited <= set(entries), cited - set(entries)


def test_every_notebook_publishes_in_order(lab_registry):
    root, outcomes = lab_registry
    assert [(o.name, o.version, o.created) for o in outcomes] == [(n, v, True) for n, v in PUBLISH_ORDER]
    deps = {f"{o.name}@{o.version}": o.metadata["dependencies"] for o in outcomes}
    assert deps["plasma@1.0.0"] == deps["plasma@1.1.0"] == {}
    # `plasma@1` resolves to the highest 1.x published before them, as in `make serve`'s seed.
    assert all(deps[f"langmuir@{v}"] == {"plasma": "1.1.0"} for v in ("1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0", "2.1.1"))
    assert deps["helicon@1.0.0"] == {"plasma": "1.1.0"}


@pytest.mark.parametrize("name, version", PUBLISH_ORDER, ids=LABELS)
def test_metadata_contract(name, version):
    raw = json.loads(read(name, version))
    assert raw["nbformat"] == 4
    # Forked versions run in Jupyter's Gilgamesh kernel as they are; the first ones predate it.
    assert raw["metadata"]["kernelspec"]["name"] == ("gilgamesh" if (name, version) in FORKED else "python3")
    meta = raw["metadata"]["gilgamesh"]
    assert {"name", "version", "summary", "endpoints", "authors"} <= set(meta) <= \
        {"name", "version", "summary", "endpoints", "authors", "changed"}
    assert (meta["name"], meta["version"]) == (name, version)
    assert meta["summary"].strip() and "\n" not in meta["summary"]
    assert meta["authors"] and meta["endpoints"]


@pytest.mark.parametrize("label, endpoints", [
    ("plasma@1.0.0", {"debye_length", "electron_plasma_frequency", "electron_cyclotron_frequency",
                      "ion_cyclotron_frequency", "bohm_velocity", "electron_mean_speed"}),
    ("plasma@1.1.0", {"electron_larmor_radius", "ion_larmor_radius", "ion_mass"}),
    ("langmuir@1.2.0", {"analyze", "ion_density", "electron_temperature", "floating_potential",
                        "plasma_potential", "synthetic_iv"}),
    ("langmuir@2.0.0", {"analyze_dict"}),
    ("helicon@1.0.0", {"density", "axial_wavenumber"}),
])
def test_the_functions_that_make_sense_over_http_are_endpoints(lab_registry, label, endpoints):
    _, outcomes = lab_registry
    published = next(o for o in outcomes if f"{o.name}@{o.version}" == label).metadata["endpoints"]
    assert endpoints <= set(published)
    for signature in published.values():  # fully annotated, per the publish check
        assert signature["returns"] and all(p["annotation"] for p in signature["params"])


@pytest.mark.parametrize("name, version", PUBLISH_ORDER, ids=LABELS)
def test_every_public_function_and_class_has_a_docstring(name, version):
    api = snapshot(name, version)
    assert api, "no public API"
    for public, entry in api.items():
        assert entry["kind"] in ("function", "class"), f"{public} is public but is a {entry['kind']}"
        assert entry["doc"], f"{public} has no docstring"


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0", "1.2.0", "2.0.0"])
def test_langmuir_pins_plasma_with_the_notebook_spelling(version):
    code = "".join(c.source for c in parse_notebook(read("langmuir", version)).import_cells())
    assert "from gilgamesh.api.plasma@1 import bohm_velocity" in code


@pytest.mark.parametrize("old, new, bump", [("1.0.0", "1.1.0", "minor"), ("1.1.0", "1.2.0", "minor"), ("1.2.0", "2.0.0", "major")])
def test_langmuir_history_bumps_as_semver_requires(old, new, bump):
    """Also plasma 1.0.0 -> 1.1.0, below."""
    changes = diff_snapshots(snapshot("langmuir", old), snapshot("langmuir", new))
    assert required_bump(changes, old) == bump
    if bump == "minor":
        assert {c.kind for c in changes} == {"name-added"}  # a minor release only adds


def test_langmuir_2_breaks_analyze_and_says_how_to_migrate():
    changes = diff_snapshots(snapshot("langmuir", "1.2.0"), snapshot("langmuir", "2.0.0"))
    majors = {(c.kind, c.name) for c in changes if c.bump == "major"}
    # keyword-only area and ion_mass_amu, and a ProbeAnalysis where 1.x returned a dict
    assert majors == {("parameter-kind-changed", "analyze"), ("return-type-changed", "analyze")}
    nb = parse_notebook(read("langmuir", "2.0.0"))
    assert any(c.kind == "markdown" and c.source.startswith("## Migrating from 1.x") for c in nb.cells)


def test_langmuir_2_as_a_minor_release_is_refused(lab_registry):
    root, _ = lab_registry
    from gilgamesh.registry.publish.pipeline import publish

    raw = json.loads(read("langmuir", "2.0.0"))
    raw["metadata"]["gilgamesh"]["version"] = "1.3.0"
    with pytest.raises(PublishRefused) as refused:
        publish(root, json.dumps(raw).encode(), publisher="test", validate=False, dry_run=True)
    semver = [p for p in refused.value.details if p.check == "semver"]
    assert semver and all("MAJOR" in p.message for p in semver)


@pytest.mark.parametrize("name, version", PUBLISH_ORDER, ids=LABELS)
def test_examples_have_clean_stored_outputs_with_a_figure(name, version):
    raw = json.loads(read(name, version))
    examples = [c for c in raw["cells"] if c["cell_type"] == "code" and "example" in c["metadata"].get("tags", [])]
    outputs = [o for c in examples for o in c["outputs"]]
    assert examples and all(c["outputs"] for c in examples)
    assert any(o["output_type"] == "stream" and o["name"] == "stdout" for o in outputs), "no printed numbers"
    pngs = [base64.b64decode(o["data"]["image/png"]) for o in outputs if "image/png" in o.get("data", {})]
    assert pngs, "no figure"
    assert max(len(p) for p in pngs) <= MAX_PNG_BYTES
    assert not [o for o in outputs if o["output_type"] == "error" or o.get("name") == "stderr"]
    # Cells that run on import have no outputs to go stale.
    assert all(not c.get("outputs") for c in raw["cells"] if c["cell_type"] == "code" and c not in examples)


@pytest.mark.parametrize("name, version", [("langmuir", "1.2.0"), ("langmuir", "2.0.0")])
def test_langmuir_figure_marks_the_fitted_regions(name, version):
    code = "".join(c.source for c in parse_notebook(read(name, version)).cells if "example" in c.tags)
    for region in ("ion saturation", "exponential region", "electron saturation"):
        assert region in code
    assert "rng.normal" in code and "default_rng(" in code  # seeded noise


@pytest.mark.parametrize("name, version", PUBLISH_ORDER, ids=LABELS)
def test_a_published_notebook_never_changes(name, version):
    """The notebooks are the source, edited as notebooks; once published, a version is frozen."""
    digest = hashlib.sha256(read(name, version)).hexdigest()
    assert digest == PUBLISHED[name, version], (
        f"api_notebooks/{name}/{version}.ipynb changed after {name} {version} was published, and a "
        f"published version never changes: restore it (git checkout -- api_notebooks/{name}/{version}.ipynb) "
        f"and make the change in a new version: gilgamesh fork {name}@{version} NEW.ipynb, edit, "
        f"gilgamesh run NEW.ipynb, gilgamesh publish NEW.ipynb")


@pytest.mark.slow
def test_every_notebook_passes_validation(tmp_path):
    """Step 7 for real: each notebook reruns top to bottom in a fresh kernel and its stored
    outputs (printed numbers included) match, within the default relative tolerance."""
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path / "registry")
    init_registry(root)
    add_lab_bibliography(root)
    for name, version in PUBLISH_ORDER:
        outcome = publish(root, read(name, version), publisher="test", validate=True)
        report = outcome.metadata["validation"]
        code_cells = sum(c.kind == "code" for c in parse_notebook(read(name, version)).cells)
        assert report["passed"] and not report["cached"], f"{name}@{version}: {report}"
        assert report["compared"] == code_cells, f"{name}@{version}: {report}"


def test_plasma_1_1_only_adds_to_1_0():
    changes = diff_snapshots(snapshot("plasma", "1.0.0"), snapshot("plasma", "1.1.0"))
    assert required_bump(changes, "1.0.0") == "minor"
    assert {(c.kind, c.name) for c in changes} == {("name-added", n) for n in ("electron_larmor_radius", "ion_larmor_radius", "ion_mass")}

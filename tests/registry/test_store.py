"""The git store and the publish pipeline's static steps, in process (no kernels)."""

import json
import os
import subprocess

import pytest

import nbfactory as f
from support import registry_state
from gilgamesh.errors import Conflict, PublishRefused, VersionNotFound
from gilgamesh.registry.publish.pipeline import publish
from gilgamesh.registry.store.reader import LocalReader
from gilgamesh.registry.store.git_store import Store, init_registry


def _publish(root, data, **kw):
    return publish(root, data, validate=False, publisher="tester", **kw)


def test_versions_are_tags_with_notebook_and_metadata(registry):
    data = f.simple_api("demo", "1.0.0")
    out = _publish(registry, data)
    assert out.created
    git_dir = os.path.join(registry, "store.git")
    tree = subprocess.run(["git", "-C", git_dir, "ls-tree", "--name-only", "demo/v1.0.0"], capture_output=True, text=True, check=True).stdout.split()
    assert tree == ["gilgamesh.json", "notebook.ipynb"]
    stored = subprocess.run(["git", "-C", git_dir, "show", "demo/v1.0.0:notebook.ipynb"], capture_output=True, check=True).stdout
    assert stored == data
    meta = json.loads(subprocess.run(["git", "-C", git_dir, "show", "demo/v1.0.0:gilgamesh.json"], capture_output=True, check=True).stdout)
    assert meta["sha256"] == out.sha256 and meta["publisher"] == "tester"
    assert meta["api"]["scale"]["params"][1] == {"name": "factor", "kind": "positional_or_keyword", "annotation": "float", "default": "2.0"}
    assert meta["endpoints"] == {"scale": {"params": meta["api"]["scale"]["params"], "returns": "float"}}
    assert LocalReader(registry).notebook_bytes("demo", "1.0.0") == data


def test_history_is_a_chain_per_api(registry):
    for v in ("1.0.0", "1.0.1", "1.0.2"):
        _publish(registry, f.simple_api("demo", v))
    log = subprocess.run(["git", "-C", os.path.join(registry, "store.git"), "log", "--format=%s", "api/demo"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert log == ["publish demo 1.0.2", "publish demo 1.0.1", "publish demo 1.0.0"]


def test_same_bytes_again_is_a_noop(registry):
    data = f.simple_api("demo", "1.0.0")
    _publish(registry, data)
    before = registry_state(registry)
    again = _publish(registry, data)
    assert not again.created
    assert registry_state(registry) == before


def test_different_bytes_under_a_published_version_conflict(registry):
    _publish(registry, f.simple_api("demo", "1.0.0"))
    before = registry_state(registry)
    with pytest.raises(Conflict, match="conflict: demo@1.0.0 is already published"):
        _publish(registry, f.simple_api("demo", "1.0.0", extra="X = 1"))
    assert registry_state(registry) == before


def test_dry_run_stores_nothing(registry):
    before = registry_state(registry)
    out = _publish(registry, f.simple_api("demo", "1.0.0"), dry_run=True)
    assert out.dry_run and not out.created
    assert registry_state(registry) == before


def _nb(cells, **meta):
    base = {"name": "bad", "version": "1.0.0", "summary": "s"}
    base.update(meta)
    nb = f.notebook(base.pop("name"), base.pop("version"), cells, summary=base.pop("summary"))
    nb["metadata"]["gilgamesh"].update(base)
    return nb


GOOD_CELLS = [f.markdown("# t"), f.code('def g(x: float) -> float:\n    """Doc."""\n    return x')]


def _without(key):
    nb = _nb(GOOD_CELLS)
    del nb["metadata"]["gilgamesh"][key]
    return f.to_bytes(nb)


BAD_INPUTS = [
    ("invalid json", b'{"cells": [', "invalid JSON"),
    ("not utf-8", b'\xff\xfe{"cells": []}', "not UTF-8"),
    ("not a notebook", b"[1, 2, 3]", "not a Jupyter notebook"),
    ("nbformat 3", f.to_bytes(dict(_nb(GOOD_CELLS), nbformat=3)), "nbformat must be 4"),
    ("no gilgamesh metadata", f.to_bytes(dict(_nb(GOOD_CELLS), metadata={})), "metadata.gilgamesh is missing"),
    ("no name", _without("name"), "metadata.gilgamesh.name is missing"),
    ("no version", _without("version"), "metadata.gilgamesh.version is missing"),
    ("no summary", _without("summary"), "metadata.gilgamesh.summary is missing"),
    ("path name", f.to_bytes(_nb(GOOD_CELLS, name="../x")), "Invalid API name: '../x'"),
    ("capital name", f.to_bytes(_nb(GOOD_CELLS, name="Langmuir")), "Invalid API name: 'Langmuir'"),
    ("keyword name", f.to_bytes(_nb(GOOD_CELLS, name="class")), "Invalid API name: 'class'"),
    ("v prefix", f.to_bytes(_nb(GOOD_CELLS, version="v1.0.0")), "Invalid version: 'v1.0.0'"),
    ("two parts", f.to_bytes(_nb(GOOD_CELLS, version="1.2")), "Invalid version: '1.2'"),
    ("leading zero", f.to_bytes(_nb(GOOD_CELLS, version="01.2.3")), "Invalid version: '01.2.3'"),
    ("multi-line summary", f.to_bytes(_nb(GOOD_CELLS, summary="a\nb")), "summary must be one non-empty line"),
    ("unannotated endpoint", f.to_bytes(_nb([f.markdown("# t"), f.code('def g(x):\n    """D."""\n    return x')], endpoints=["g"])),
     "endpoint 'g': parameter 'x' has no annotation"),
    ("unannotated return", f.to_bytes(_nb([f.code('def g(x: float):\n    """D."""\n    return x')], endpoints=["g"])),
     "endpoint 'g': the return has no annotation"),
    ("non-json endpoint type", f.to_bytes(_nb([f.code('def g(x: object) -> float:\n    """D."""\n    return 1.0')], endpoints=["g"])),
     "parameter 'x' has type 'object', which is not JSON-compatible"),
    ("missing endpoint", f.to_bytes(_nb(GOOD_CELLS, endpoints=["nope"])), "endpoint 'nope' is not a function"),
    ("bare api import", f.to_bytes(_nb(GOOD_CELLS + [f.code("import gilgamesh.api.plasma")])),
     "gilgamesh.api.plasma is imported without a version"),
    ("unknown dependency", f.to_bytes(_nb(GOOD_CELLS + [f.code("from gilgamesh.api.plasma@1 import x")])),
     "gilgamesh.api.plasma.v1 does not resolve"),
    ("undocumented function", f.to_bytes(_nb([f.code("def g(x):\n    return x")])), "public function 'g' has no docstring"),
    ("magic on import", f.to_bytes(_nb(GOOD_CELLS + [f.code("%matplotlib inline\nx = 1")])), "IPython magics and !shell lines"),
    ("shell on import", f.to_bytes(_nb(GOOD_CELLS + [f.code("!pip install foo")])), "IPython magics and !shell lines"),
    ("syntax error", f.to_bytes(_nb(GOOD_CELLS + [f.code("def (:")])), "syntax error"),
    ("unknown metadata", f.to_bytes(_nb(GOOD_CELLS, colour="blue")), "metadata.gilgamesh.colour is not a known field"),
]


@pytest.mark.parametrize("label, data, expected", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_refused_naming_the_problem_and_nothing_is_written(registry, label, data, expected):
    before = registry_state(registry)
    with pytest.raises(PublishRefused) as info:
        _publish(registry, data)
    assert expected in str(info.value)
    assert registry_state(registry) == before


def test_every_problem_is_reported_at_once(registry):
    cells = [f.code("def g(x):\n    return x"), f.code("import gilgamesh.api.plasma\n"), f.code("%time 1")]
    data = f.to_bytes(_nb(cells, version="1.2", endpoints=["g"]))
    with pytest.raises(PublishRefused) as info:
        _publish(registry, data)
    checks = sorted({p.check for p in info.value.details})
    assert checks == ["dependencies", "documentation", "endpoints", "metadata", "structure"]
    cells_named = {p.cell for p in info.value.details if p.cell}
    assert {1, 2, 3} <= cells_named


def test_magics_in_example_cells_are_allowed(registry):
    data = f.to_bytes(_nb(GOOD_CELLS + [f.code("%matplotlib inline\nprint(g(2.0))", "example")]))
    assert _publish(registry, data).created


def test_dependencies_are_resolved_to_exact_versions(registry):
    _publish(registry, f.simple_api("plasma", "1.0.0"))
    _publish(registry, f.simple_api("plasma", "1.1.0", extra='def h() -> int:\n    """H."""\n    return 1'))
    cells = GOOD_CELLS + [f.code("from gilgamesh.api.plasma@1 import scale\nimport gilgamesh.api.plasma.v1_0 as p10")]
    with pytest.raises(PublishRefused, match="two different versions"):
        _publish(registry, f.to_bytes(_nb(cells, name="user")))
    cells = GOOD_CELLS + [f.code("from gilgamesh.api.plasma@1 import scale  # gilgamesh.api.other is a comment\ns = 'gilgamesh.api.x'")]
    out = _publish(registry, f.to_bytes(_nb(cells, name="user")))
    assert out.metadata["dependencies"] == {"plasma": "1.1.0"}
    assert LocalReader(registry).entry("user", "1.0.0")["dependencies"] == {"plasma": "1.1.0"}


def test_yank_and_unyank_keep_history(registry):
    for v in ("1.0.0", "1.0.1"):
        _publish(registry, f.simple_api("demo", v))
    store = Store(registry)
    store.set_yanked("demo", "1.0.1", "wrong constant", "tester")
    reader = LocalReader(registry)
    assert reader.resolve("demo", "1").version == "1.0.0"
    r = reader.resolve("demo", "1.0.1")
    assert r.yanked and r.yank_reason == "wrong constant"
    store.set_yanked("demo", "1.0.1", None, "tester")
    assert LocalReader(registry).resolve("demo", "1").version == "1.0.1"
    log = subprocess.run(["git", "-C", os.path.join(registry, "store.git"), "log", "--format=%s", "refs/records/log"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert log == ["unyank demo@1.0.1", "yank demo@1.0.1"]
    with pytest.raises(VersionNotFound):
        store.set_yanked("demo", "9.9.9", "x", "tester")


def test_index_rebuilds_from_the_refs(registry):
    for v in ("1.0.0", "1.0.1"):
        _publish(registry, f.simple_api("demo", v))
    _publish(registry, f.simple_api("other", "0.1.0"))
    Store(registry).set_yanked("demo", "1.0.0", "r", "t")
    before = registry_state(registry)
    for name in os.listdir(os.path.join(registry, "index")):
        os.unlink(os.path.join(registry, "index", name))
    for name in os.listdir(os.path.join(registry, "blobs")):
        os.unlink(os.path.join(registry, "blobs", name))
    assert Store(registry).rebuild_index() == ["demo", "other"]
    assert registry_state(registry) == before


def test_a_reader_reads_around_an_abandoned_journal_and_the_next_writer_settles_it(registry):
    _publish(registry, f.simple_api("demo", "1.0.0"))
    before = registry_state(registry)
    # What a writer killed between creating the tag and writing the index leaves behind.
    os.unlink(os.path.join(registry, "index", "demo.json"))
    with open(os.path.join(registry, "journal.json"), "w") as fh:
        json.dump({"op": "publish", "name": "demo", "version": "1.0.0"}, fh)
    abandoned = registry_state(registry)
    reader = LocalReader(registry)
    assert reader.resolve("demo", "1").version == "1.0.0"
    assert reader.names() == ["demo"]
    assert reader.notebook_bytes("demo", "1.0.0") == f.simple_api("demo", "1.0.0")
    assert registry_state(registry) == abandoned  # reads never write
    _publish(registry, f.simple_api("other", "1.0.0"))  # the next writer settles it
    assert registry_state(registry)["files"]["index/demo.json"] == before["files"]["index/demo.json"]
    assert not os.path.exists(os.path.join(registry, "journal.json"))


def test_init_refuses_a_non_empty_foreign_directory(tmp_path):
    (tmp_path / "stuff.txt").write_text("mine")
    from gilgamesh.errors import RegistryUnavailable

    with pytest.raises(RegistryUnavailable, match="not empty"):
        init_registry(str(tmp_path))
    assert os.listdir(tmp_path) == ["stuff.txt"]


def test_a_git_mirror_of_the_store_becomes_a_registry(registry, tmp_path):
    for v in ("1.0.0", "1.0.1"):
        _publish(registry, f.simple_api("demo", v))
    Store(registry).set_yanked("demo", "1.0.0", "superseded", "t")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    subprocess.run(["git", "clone", "-q", "--mirror", os.path.join(registry, "store.git"), str(mirror / "store.git")], check=True)
    init_registry(str(mirror))
    copy = LocalReader(str(mirror))
    assert copy.api_index("demo") == LocalReader(registry).api_index("demo")
    assert copy.notebook_bytes("demo", "1.0.1") == f.simple_api("demo", "1.0.1")


def test_a_damaged_settings_file_is_named_and_nothing_is_written(registry):
    with open(os.path.join(registry, "settings.json"), "w") as fh:
        fh.write("{not json")
    before = registry_state(registry)
    from gilgamesh.errors import GilgameshError

    with pytest.raises(GilgameshError, match="settings.json is not valid JSON"):
        publish(registry, f.simple_api("demo", "1.0.0"), publisher="tester")
    assert registry_state(registry) == before


def test_an_unpinned_import_is_told_the_pin_to_use(registry):
    _publish(registry, f.simple_api("plasma", "1.3.0"))
    with pytest.raises(PublishRefused, match=r"pin it, e.g. gilgamesh.api.plasma@1.3 or gilgamesh.api.plasma.v1_3"):
        _publish(registry, f.to_bytes(_nb(GOOD_CELLS + [f.code("import gilgamesh.api.plasma")])))

"""The finder: spellings, one module per exact version, the handle, resolution once per process."""

from __future__ import annotations

import importlib
import math
import sys
import threading
import warnings

import pytest

import gilgamesh
from gilgamesh.errors import ApiNotFound, GilgameshError, InvalidName, InvalidSpec, VersionNotFound
from gilgamesh.loader import UnpinnedImportWarning, YankedVersionWarning
from gilgamesh.loader.finder import ApiFinder
from loader_kit import YANK_REASON, fixture_bytes


def _version_modules() -> list[str]:
    return sorted(k for k in sys.modules if k.startswith("gilgamesh.api.") and k.count(".") == 3)


@pytest.mark.parametrize("spelling, version", [
    ("v1_2", "1.2.1"),          # the highest 1.2.* release
    ("v1", "1.2.1"),            # 1.3.0rc1 is a pre-release: only an exact spec picks it
    ("v1_2_0", "1.2.0"),
    ("v1_3_0rc1", "1.3.0rc1"),
    ("v2", "2.0.0"),
    ("v2_0", "2.0.0"),
    ("v2_0_0", "2.0.0"),
])
def test_python_spellings(spelling, version):
    module = importlib.import_module(f"gilgamesh.api.langmuir.{spelling}")
    assert module.__version__ == version == module.VERSION
    assert module.__name__ == "gilgamesh.api.langmuir.v" + version.replace(".", "_")


def test_from_import_spelling():
    from gilgamesh.api.langmuir.v1_2 import analyze, VERSION

    assert VERSION == "1.2.1"
    assert analyze.__module__ == "gilgamesh.api.langmuir.v1_2_1"


def test_one_module_per_exact_version_whichever_spelling():
    import gilgamesh.api.langmuir.v1_2 as by_minor
    import gilgamesh.api.langmuir.v1 as by_major
    import gilgamesh.api.langmuir.v1_2_1 as exact

    assert by_minor is by_major is exact
    assert gilgamesh.use("langmuir@1.2") is exact
    assert gilgamesh.use("langmuir@1.2.1") is exact
    assert gilgamesh.api.langmuir.v1_2 is exact
    assert sys.modules["gilgamesh.api.langmuir.v1_2"] is exact
    # The module keeps its own identity whichever name reached it first.
    assert exact.__spec__.name == exact.__name__ == "gilgamesh.api.langmuir.v1_2_1"
    assert _version_modules() == ["gilgamesh.api.langmuir.v1", "gilgamesh.api.langmuir.v1_2",
                                  "gilgamesh.api.langmuir.v1_2_1"]


def test_range_spelling_first_then_exact():
    alias = importlib.import_module("gilgamesh.api.langmuir.v2")
    assert alias.__spec__.name == "gilgamesh.api.langmuir.v2_0_0"
    assert importlib.import_module("gilgamesh.api.langmuir.v2_0_0") is alias


def test_two_majors_side_by_side():
    from gilgamesh.api.langmuir.v1_2 import analyze as analyze_1
    from gilgamesh.api.langmuir.v2 import analyze as analyze_2

    V = [0.5 * k for k in range(-20, 1)]
    I = [1e-3 * math.exp(v / 3.0) - 1e-5 for v in V]
    r1, r2 = analyze_1(V, I, 2e-6), analyze_2(V, I, area=2e-6)
    assert set(r1) == {"T_e", "j_is"} and set(r2) == {"T_e", "j_is", "I_sat"}
    assert r1["T_e"] == pytest.approx(r2["T_e"])
    with pytest.raises(TypeError):
        analyze_2(V, I, 2e-6)  # area is keyword-only in 2.0
    assert analyze_1.__globals__ is not analyze_2.__globals__


def test_importing_a_version_runs_no_other():
    import gilgamesh.api.langmuir.v1_2_0  # noqa: F401

    assert _version_modules() == ["gilgamesh.api.langmuir.v1_2_0"]


def test_bare_handle_is_light():
    import gilgamesh.api.langmuir as handle

    assert _version_modules() == []
    assert "import a version" in handle.__doc__
    assert handle.__path__ == []


def test_handle_attribute_loads_latest_with_a_warning():
    import gilgamesh.api.langmuir as handle

    with pytest.warns(UnpinnedImportWarning, match=r"resolved to 2\.0\.0; pin it, e\.g\. langmuir@2\.0") as record:
        analyze = handle.analyze
    assert record[0].filename == __file__  # attributed to the line that asked
    assert analyze.__module__ == "gilgamesh.api.langmuir.v2_0_0"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert handle.VERSION == "2.0.0"  # resolved once: warned once


def test_from_bare_handle_import_warns():
    with pytest.warns(UnpinnedImportWarning):
        from gilgamesh.api.langmuir import analyze
    assert analyze.__module__ == "gilgamesh.api.langmuir.v2_0_0"


def test_use_without_spec_warns_and_returns_the_latest():
    with pytest.warns(UnpinnedImportWarning) as record:
        module = gilgamesh.use("langmuir")
    assert module.__version__ == "2.0.0"
    assert record[0].filename == __file__


def test_gilgamesh_api_attributes_and_dir():
    import gilgamesh.api

    assert gilgamesh.api.langmuir.v1_2.__version__ == "1.2.1"
    assert not hasattr(gilgamesh.api, "nosuch")
    assert {"langmuir", "plasma", "broken"} <= set(dir(gilgamesh.api))
    assert not hasattr(gilgamesh.api.langmuir, "v9")


def test_yanked_exact_pin_warns_with_the_reason():
    with pytest.warns(YankedVersionWarning, match=YANK_REASON) as record:
        module = importlib.import_module("gilgamesh.api.langmuir.v1_1_0")
    assert module.__version__ == "1.1.0"
    assert record[0].filename == __file__


def test_ranges_skip_yanked_versions():
    with pytest.raises(ModuleNotFoundError, match="yanked versions and pre-releases are skipped"):
        importlib.import_module("gilgamesh.api.langmuir.v1_1")


def test_prerelease_only_by_exact_spec():
    with pytest.raises(ModuleNotFoundError, match=r"no release of langmuir@1\.3"):
        importlib.import_module("gilgamesh.api.langmuir.v1_3")
    assert importlib.import_module("gilgamesh.api.langmuir.v1_3_0rc1").__version__ == "1.3.0rc1"


@pytest.mark.parametrize("name, error, message", [
    ("gilgamesh.api.nosuch", ApiNotFound, "no API named 'nosuch' in the registry at"),
    ("gilgamesh.api.nosuch.v1", ApiNotFound, "no API named 'nosuch'"),
    ("gilgamesh.api.Langmuir", InvalidName, "Invalid API name: 'Langmuir'"),
    ("gilgamesh.api.langmuir.latest", InvalidSpec, "Invalid version module 'latest'"),
    ("gilgamesh.api.langmuir.unpinned", InvalidSpec, "Invalid version module 'unpinned'"),
    ("gilgamesh.api.langmuir.v0", InvalidSpec, "0.x has no compatibility promise"),
    ("gilgamesh.api.langmuir.v1_02", InvalidSpec, "Invalid version module 'v1_02'"),
    ("gilgamesh.api.langmuir.v9", VersionNotFound, "no release of langmuir@9"),
    ("gilgamesh.api.langmuir.v1_2_9", VersionNotFound, "langmuir has no version 1.2.9"),
])
def test_unresolvable_names_are_import_errors_that_say_why(name, error, message):
    with pytest.warns(UnpinnedImportWarning):
        gilgamesh.use("langmuir")  # an unpinned resolution is in the memo: it must not leak
    with pytest.raises(ModuleNotFoundError) as info:
        importlib.import_module(name)
    assert isinstance(info.value, error) and isinstance(info.value, GilgameshError)
    assert message in str(info.value)
    assert info.value.name == name or name.startswith(info.value.name)
    assert info.value.exit_code == 1


def test_use_rejects_a_malformed_spec():
    with pytest.raises(InvalidSpec, match="nothing after '@'"):
        gilgamesh.use("langmuir@")
    with pytest.raises(InvalidSpec):
        gilgamesh.use("langmuir@1.x")


@pytest.mark.parametrize("name", [
    "json", "gilgamesh", "gilgamesh.apix", "gilgamesh.loader.finder", "gilgamesh.api._private",
    "gilgamesh.api.__init__", "gilgamesh.api.langmuir.v1_2.deeper", "numpy.api.x",
])
def test_foreign_names_get_none_without_touching_the_registry(name, monkeypatch, tmp_path):
    monkeypatch.setenv("GILGAMESH_REGISTRY", str(tmp_path / "nowhere"))
    assert ApiFinder().find_spec(name, None) is None


def test_finder_is_first_and_installed_once():
    import gilgamesh.api  # noqa: F401
    from gilgamesh.loader.finder import install

    install()
    install()
    assert isinstance(sys.meta_path[0], ApiFinder)
    assert sum(isinstance(f, ApiFinder) for f in sys.meta_path) == 1


def test_resolution_stays_put_until_refresh(own_registry):
    from gilgamesh.registry.publish.pipeline import publish

    first = gilgamesh.use("langmuir@1.2")
    assert first.__version__ == "1.2.1"
    newer = fixture_bytes("langmuir-1.2.1").replace(b'"version": "1.2.1"', b'"version": "1.2.2"') \
                                          .replace(b"VERSION = '1.2.1'", b"VERSION = '1.2.2'")
    publish(own_registry, newer, validate=False)

    assert gilgamesh.use("langmuir@1.2") is first
    del sys.modules["gilgamesh.api.langmuir.v1_2"]  # even asked again, the spec stays put
    assert importlib.import_module("gilgamesh.api.langmuir.v1_2") is first

    gilgamesh.refresh()
    assert "gilgamesh.api.langmuir.v1_2" not in sys.modules
    assert gilgamesh.use("langmuir@1.2").__version__ == "1.2.2"
    assert gilgamesh.use("langmuir@1.2.1") is first  # the exact version keeps its one module


def test_concurrent_imports_get_one_module():
    results = []
    barrier = threading.Barrier(8)

    def load(spelling):
        barrier.wait()
        results.append(gilgamesh.use(spelling))

    threads = [threading.Thread(target=load, args=(s,)) for s in ["langmuir@1.2", "langmuir@1", "langmuir@1.2.1"] * 2
               + ["langmuir@1.2"] * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 8 and len({id(m) for m in results}) == 1


def test_api_notebook_imports_another_with_the_at_spelling():
    import gilgamesh.api.plasma.v1 as plasma

    assert plasma.langmuir is gilgamesh.use("langmuir@1.2.1")
    assert plasma.analyze is plasma.langmuir.analyze
    # @ inside strings and comments is text, not an import.
    assert plasma.NOTE == "'gilgamesh.api.langmuir@1.2' in a string is text"
    assert gilgamesh.use("langmuir@1.2").NOTE == "strings keep their @: gilgamesh.api.plasma@1"
    V = [0.5 * k for k in range(-20, 1)]
    assert plasma.temperature_from_sweep(V, [1e-3 * math.exp(v / 3.0) for v in V]) == pytest.approx(3.0)


def test_future_imports_carry_over_to_later_cells():
    import gilgamesh.api.plasma.v1 as plasma

    assert plasma.debye_length.__annotations__ == {"n_e": "float", "T_e": "float", "return": "float"}


def test_functions_pickle_by_their_canonical_module():
    import pickle

    from gilgamesh.api.langmuir.v1_2 import analyze

    assert pickle.loads(pickle.dumps(analyze)) is analyze


@pytest.mark.parametrize("target", [3, None, b"langmuir@1.2"])
def test_use_and_docs_refuse_a_non_string_with_a_type_error(target):
    with pytest.raises(TypeError, match="takes a string such as 'langmuir@1.2'"):
        gilgamesh.use(target)
    with pytest.raises(TypeError, match="takes a string such as 'langmuir@1.2' or an API module"):
        gilgamesh.docs(target)

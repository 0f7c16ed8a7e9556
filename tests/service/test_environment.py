"""Environment capture: validation records the Python and the distributions the notebook imported;
``resolve``, ``show``, the HTTP metadata and the docs page show it; an import in a different
environment (major or minor) warns, unless ``GILGAMESH_ENVIRONMENT_WARNINGS=0``.

The distribution is a real one, installed twice by hand (a package and its ``.dist-info``) in two
directories at two versions; ``PYTHONPATH`` chooses which one a process sees.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

import nbfactory as f
from gilgamesh.registry.publish.pipeline import publish

pytestmark = pytest.mark.slow


def _install_fake(directory, version: str) -> str:
    """``labunits`` at ``version`` in ``directory`` (a site directory of its own)."""
    package = directory / "labunits"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"__version__ = {version!r}\nMETRE = 1.0\n")
    info = directory / f"labunits-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: labunits\nVersion: {version}\n")
    (info / "top_level.txt").write_text("labunits\n")
    (info / "RECORD").write_text("")
    return str(directory)


def _ran(source: str) -> dict:
    cell = f.code(source)
    cell["execution_count"] = 1
    return cell


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """A registry with ``units`` 1.0.0 validated (for real) against labunits 1.4.2."""
    from gilgamesh.registry.store.git_store import init_registry

    tmp = tmp_path_factory.mktemp("environment")
    old = _install_fake(tmp / "old", "1.4.2")
    new = _install_fake(tmp / "new", "2.1.0")
    patch = _install_fake(tmp / "patch", "1.4.9")
    root = str(tmp / "registry")
    init_registry(root)
    with open(os.path.join(root, "settings.json")) as fh:
        settings = json.load(fh)
    settings["sandbox"] = False  # the hand-made site directory lives outside what the sandbox shows
    with open(os.path.join(root, "settings.json"), "w") as fh:
        json.dump(settings, fh)
    nb = f.to_bytes(f.notebook("units", "1.0.0", [
        f.markdown("# units\n\nLengths in metres."),
        _ran("import labunits\n\ndef metres(x: float) -> float:\n    \"\"\"In metres.\"\"\"\n"
             "    return x * labunits.METRE"),
    ]))
    env = dict(os.environ, PYTHONPATH=old)
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = old  # the validation kernel inherits the publisher's environment
    try:
        outcome = publish(root, nb, publisher="test")
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before
    assert outcome.created
    return {"root": root, "old": old, "new": new, "patch": patch, "env": env, "tmp": tmp}


def test_the_distributions_of_imported_modules_are_importlibs_answer(tmp_path):
    """The capture reads only the distributions that may provide an imported name, with the same
    answer as ``importlib.metadata.packages_distributions()``: for every name it knows, the
    standard library's, and a distribution without ``top_level.txt`` (names from its RECORD)."""
    site = tmp_path / "site"
    info = site / "labrecord-0.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: labrecord\nVersion: 0.3\n")
    (info / "RECORD").write_text("labrecord/__init__.py,sha256=x,10\nlabrecord_single.py,,\n"
                                 "labrecord-0.3.dist-info/RECORD,,\n")
    # In a fresh interpreter: a package imported earlier in this test process (distributed adds
    # meta-path finders) can change what importlib.metadata sees of a directory added later.
    check = """
import sys
from importlib import metadata
from gilgamesh.environment import distributions_providing
everything = metadata.packages_distributions()
assert everything["labrecord"] == ["labrecord"] and everything["labrecord_single"] == ["labrecord"], everything
names = set(everything) | set(sys.stdlib_module_names) | {"not_a_module_anywhere"}
assert distributions_providing(names) == everything
assert distributions_providing({"labrecord_single", "json"}) == {"labrecord_single": ["labrecord"]}
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr


def _cli(*argv, env=None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gilgamesh", *argv], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def test_validation_records_python_and_the_imported_distributions(validated):
    out = _cli("resolve", "units@1", "--json", "--registry", validated["root"])
    assert out.returncode == 0, out.stderr
    environment = json.loads(out.stdout)["environment"]
    assert environment["python"] == platform.python_version()
    assert environment["packages"]["labunits"] == "1.4.2"
    # The kernel's own machinery and Gilgamesh are not what the notebook imported.
    assert not {"ipykernel", "jupyter_client", "gilgamesh", "tornado"} & set(environment["packages"])
    text = _cli("resolve", "units@1", "--registry", validated["root"]).stdout
    assert f"environment:  Python {platform.python_version()}; labunits 1.4.2" in text
    shown = _cli("show", "units@1.0.0", "--registry", validated["root"]).stdout
    assert "labunits 1.4.2" in shown


def _import(validated, site: str, **extra) -> subprocess.CompletedProcess:
    env = dict(os.environ, GILGAMESH_REGISTRY=validated["root"], PYTHONPATH=site,
               GILGAMESH_CACHE=str(validated["tmp"] / "cache"), **extra)
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run([sys.executable, "-c", "import gilgamesh.api.units.v1 as u; print(u.metres(2.0))"],
                          capture_output=True, text=True, env=env, timeout=120)


def test_an_import_in_another_environment_warns_naming_the_package(validated):
    same = _import(validated, validated["old"])
    assert same.returncode == 0 and same.stdout.strip() == "2.0"
    assert "EnvironmentMismatchWarning" not in same.stderr
    other = _import(validated, validated["new"])
    assert other.returncode == 0, other.stderr
    assert "EnvironmentMismatchWarning" in other.stderr
    assert "units@1.0.0 was validated with labunits 1.4.2 (here 2.1.0)" in other.stderr
    # Remembered per environment: a second import warns again, from the memo.
    assert "labunits 1.4.2 (here 2.1.0)" in _import(validated, validated["new"]).stderr
    # A patch release differs in neither major nor minor.
    assert "EnvironmentMismatchWarning" not in _import(validated, validated["patch"]).stderr
    # Nowhere installed.
    missing = _import(validated, str(validated["tmp"]))
    assert "labunits 1.4.2 (not installed here)" in missing.stderr


def test_the_setting_silences_the_warning(validated):
    quiet = _import(validated, validated["new"], GILGAMESH_ENVIRONMENT_WARNINGS="0")
    assert quiet.returncode == 0 and quiet.stdout.strip() == "2.0"
    assert "EnvironmentMismatchWarning" not in quiet.stderr


def test_http_metadata_and_pages_show_the_environment(validated, service_env):
    import urllib.request

    from service_kit import Server

    server = Server(validated["root"]).start()
    try:
        with urllib.request.urlopen(f"{server.url}/api/notebooks/units/1") as r:
            meta = json.loads(r.read())
        assert meta["environment"]["packages"] == {"labunits": "1.4.2"} or \
            meta["environment"]["packages"]["labunits"] == "1.4.2"
        for page in ("/docs/units/1.0.0", "/ui/units/1.0.0"):
            request = urllib.request.Request(server.url + page, headers={"Accept": "text/html"})
            with urllib.request.urlopen(request) as r:
                html = r.read().decode()
            assert f"Python {platform.python_version()}; labunits 1.4.2" in html
    finally:
        server.stop()

"""Step 7, validation: real kernels run fixture notebooks; outputs compared as nbval does, with tolerance.

The fixture notebooks are built here from literal cells and literal stored outputs (what Jupyter
would have saved), so each test states what it runs and what it expects.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import psutil
import pytest

import nbfactory as f
from support import update_settings
from gilgamesh.errors import PublishRefused
from gilgamesh.registry.validation import launch as validation
from gilgamesh.registry.compare.outputs import compare_outputs, texts_match
from gilgamesh.registry.validation.runner import STALE_HINT
from gilgamesh.registry.publish.pipeline import publish
from gilgamesh.registry.store.reader import LocalReader
from gilgamesh.registry.validation.launch import cache_dir, validation_key

pytestmark = pytest.mark.slow

# A 1x1 PNG; the stored image of the image cell is the same pixels encoded differently (other
# compression, a metadata chunk): figures are compared as pixels, so it matches.
PNG_NEW = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PNG_STORED = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


def _reencoded(png: bytes) -> str:
    import io

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "another encoder")
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).save(out, "PNG", compress_level=1, pnginfo=info)
    assert out.getvalue() != png
    return base64.b64encode(out.getvalue()).decode()


PNG_NEW_REENCODED = _reencoded(PNG_NEW)


def stdout(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def stderr(text: str) -> dict:
    return {"output_type": "stream", "name": "stderr", "text": text}


def result(text: str) -> dict:
    return {"output_type": "execute_result", "execution_count": 1, "data": {"text/plain": text}, "metadata": {}}


def error(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": []}


def ran(source: str, *outputs: dict, tags: tuple[str, ...] = ()) -> dict:
    """A code cell as Jupyter saves it after running: an execution count and its outputs."""
    cell = f.code(source, *tags, outputs=list(outputs))
    cell["execution_count"] = 1
    return cell


def api(cells: list[dict], name: str = "demo", version: str = "1.0.0", **meta) -> bytes:
    return f.to_bytes(f.notebook(name, version, [f.markdown(f"# {name}\n\nA fixture.")] + cells, **meta))


set_limits = update_settings


@pytest.fixture(autouse=True)
def scratch_in_tmp(tmp_path, monkeypatch):
    """Validation scratch directories go to tmp_path: leftovers (files or processes) are ours to find."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    yield scratch
    assert os.listdir(scratch) == [], "a validation scratch directory was left behind"
    assert processes_mentioning(str(scratch)) == [], "a validation process was left running"


def registry_state(root: str) -> dict:
    """Refs, index files and blobs: everything a publish could change."""
    refs = subprocess.run(["git", "-C", os.path.join(root, "store.git"), "for-each-ref"],
                          capture_output=True, text=True, check=True).stdout
    files = {sub: sorted(os.listdir(os.path.join(root, sub))) for sub in ("index", "blobs")}
    return {"refs": refs, "files": files, "journal": os.path.exists(os.path.join(root, "journal.json"))}


def processes_mentioning(marker: str) -> list[str]:
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(p.info["cmdline"] or [])
        if marker in cmdline and p.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(f"{p.pid}: {cmdline[:100]}")
    return found


# -- the comparison itself (no kernel) ----------------------------------------------------------

TEXTS = [
    # (expected, got, tolerance, match)
    ("0.6666666666666666\n", "0.6666666673\n", 1e-6, True),  # differs in the 9th digit
    ("0.6666666666666666\n", "0.668\n", 1e-6, False),  # differs in the 3rd digit
    ("0.6666666666666666\n", "0.668\n", 1e-2, True),  # a notebook may loosen its tolerance
    ("0.6666666673", "0.6666666666666666", 0.0, False),  # tolerance 0: floats must be equal
    ("1000\n", "1000.0\n", 0.0, False),  # tolerance 0 is exact text
    ("2.1", "2.10", 0.0, False),
    ("2.1", "2.10", 1e-6, True),
    ("E = 1.602176634e-19 J", "E = 1.6021766340000001e-19 J", 1e-6, True),
    ("E = 1.602e-19 J", "E = 1.602e-18 J", 1e-6, False),
    ("n = 1000000", "n = 1000001", 1e-6, False),  # integers are exact
    ("[1.         2.00000001]", "[1. 2.]", 1e-6, True),  # numpy pads columns to the widest value
    ("a 1.0 b", "a 1.0 c", 1e-6, False),  # the text around numbers is exact
    ("x = 1.5", "y = 1.5", 1e-6, False),
    ("1.5 2.5", "1.5", 1e-6, False),  # a missing number
    ("-0.0", "0.0", 1e-6, True),
    ("nan", "nan", 1e-6, True),
]


@pytest.mark.parametrize("expected, got, tolerance, match", TEXTS)
def test_texts_match_compares_floats_with_a_relative_tolerance(expected, got, tolerance, match):
    assert texts_match(expected, got, tolerance) is match


def _nodes(*outputs):
    import nbformat

    return [nbformat.from_dict(o) for o in outputs]


COMPARISONS = [
    ("same", [stdout("a 1.0\n")], [stdout("a 1.0\n")], None),
    ("streams are merged", [stdout("a\nb\n")], [stdout("a\n"), stdout("b\n")], None),
    ("float in the 9th digit", [result("0.6666666673")], [result("0.6666666666666666")], None),
    ("second line differs", [stdout("a 1\nb 2.0\n")], [stdout("a 1\nb 2.5\n")],
     "stdout output differs at line 2: expected 'b 2.0', got 'b 2.5'"),
    ("missing output", [stdout("x\n")], [], "expected stdout output 'x\\n', but the new run produced none"),
    ("unexpected output", [], [stderr("oops\n")], "the new run produced stderr output 'oops\\n' that the stored notebook does not have"),
    ("images are compared as pixels", [{"output_type": "display_data", "data": {"image/png": PNG_STORED, "text/plain": "<Figure>"}, "metadata": {}}],
     [{"output_type": "display_data", "data": {"image/png": "AAAA", "text/plain": "<Figure>"}, "metadata": {}}],
     "the new figure cannot be decoded as an image"),
    ("error value", [error("ValueError", "bad 1.0")], [error("ValueError", "bad 2.0")],
     "evalue output differs: expected 'bad 1.0', got 'bad 2.0'"),
]


@pytest.mark.parametrize("label, stored, new, message", COMPARISONS, ids=[c[0] for c in COMPARISONS])
def test_compare_outputs_reports_expected_and_got(label, stored, new, message):
    mismatch = compare_outputs(_nodes(*stored), _nodes(*new))
    assert (None if mismatch is None else mismatch.describe()) == message


def test_the_keys_left_out_are_nbvals():
    """SKIP_COMPARE repeats what nbval's IPyNbFile builds in __init__; fail if nbval changes it."""
    import inspect

    from nbval.plugin import IPyNbFile

    from gilgamesh.registry.compare.outputs import SKIP_COMPARE

    source = inspect.getsource(IPyNbFile.__init__)
    listed = set(re.findall(r"'([^']+)'", source[source.index("skip_compare"):]))
    assert set(SKIP_COMPARE) == {k for k in listed if k != "text/latex"}  # nbval comments text/latex out


def test_the_runner_uses_nbvals_own_comparison_without_importing_pytest():
    """Outside pytest (the validation runner) nbval.plugin's code runs without pytest and coverage
    being imported, and a later ``import nbval.plugin`` is the real module."""
    code = (
        "import sys\n"
        "from gilgamesh.registry.compare import outputs as c\n"
        "loaded = [m for m in ('pytest', 'coverage', 'nbval.plugin', 'nbval.cover') if m in sys.modules]\n"
        "method = c.IPyNbCell.compare_outputs\n"
        "import nbval.plugin\n"
        "real = nbval.plugin.IPyNbCell.compare_outputs.__code__\n"
        "same = (method.__code__.co_filename, method.__code__.co_code) == (real.co_filename, real.co_code)\n"
        "print(loaded, same,"
        " nbval.plugin.IPyNbCell.__mro__[1].__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "True", "_pytest.nodes"]


# -- notebooks that pass --------------------------------------------------------------------------

MARKERS_CELLS = [
    ran("import random\nimport sys\nprint(2 / 3)", stdout("0.6666666673\n")),  # 2: 9th digit differs
    ran("x = 1.5\nx * 2", result("3.0")),  # 3
    ran("print(random.random())", stdout("0.123\n"), tags=("nbval-ignore-output",)),  # 4
    ran("# NBVAL_IGNORE_OUTPUT\nprint(random.random())", stdout("0.5\n")),  # 5
    f.code("raise RuntimeError('never runs')", "nbval-skip", "example"),  # 6
    f.code("# NBVAL_SKIP\nimport os\nos._exit(1)", "example"),  # 7
    ran("raise ValueError('expected failure')", error("ValueError", "expected failure"), tags=("raises-exception", "example")),  # 8
    ran("# NBVAL_RAISES_EXCEPTION\n1 / 0", error("ZeroDivisionError", "division by zero"), tags=("example",)),  # 9
    ran(f"from IPython.display import Image, display\ndisplay(Image(data={PNG_NEW!r}))",
        {"output_type": "display_data", "data": {"image/png": PNG_NEW_REENCODED, "text/plain": "<IPython.core.display.Image object>"},
         "metadata": {}}, tags=("example",)),  # 10: the same pixels, other encoder settings and metadata
    ran("print('careful', file=sys.stderr)\nprint('done')", stdout("done\n"), stderr("careful\n"), tags=("example",)),  # 11
    f.code("print('never saved: not compared, as nbval does for cells without an execution count')"),  # 12
    ran("print(x / 7)", stdout("0.2142857150\n"), tags=("example",)),  # 13: 0.21428571428571427, 9th digit differs
]


def test_a_notebook_that_runs_and_matches_is_published_with_its_validation_record(registry):
    data = api(MARKERS_CELLS)
    out = publish(registry, data, publisher="tester")
    assert out.created
    record = out.metadata["validation"]
    assert record["passed"] is True and record["cached"] is False
    assert record["tolerance"] == 1e-6
    # 13 cells: 12 code cells, 2 of them skipped; cells 4, 5 (ignore-output) and 12 (never run) not compared.
    assert record["cells"] == 10 and record["compared"] == 7
    stored = json.loads(subprocess.run(
        ["git", "-C", os.path.join(registry, "store.git"), "show", "demo/v1.0.0:gilgamesh.json"],
        capture_output=True, check=True).stdout)
    assert stored["validation"] == record


def test_tolerance_comes_from_the_notebook_metadata(registry):
    cells = [
        ran("print(2 / 3)", stdout("0.668\n")),  # 0.2 % off: inside a 1 % tolerance
        ran("print(1 / 3)", stdout("0.34\n")),  # 2 % off: outside
    ]
    with pytest.raises(PublishRefused) as info:
        publish(registry, api(cells, tolerance=0.01))
    assert [(p.check, p.cell) for p in info.value.details] == [("validation", 3)]
    assert "expected '0.34\\n', got '0.3333333333333333\\n'" in info.value.details[0].message


# -- notebooks that are refused -------------------------------------------------------------------

def test_every_mismatching_cell_is_reported_with_expected_and_got(registry):
    cells = [
        ran("print(2 / 3)", stdout("0.668\n")),  # 2: the 3rd digit differs
        ran("'a' + 'b'", result("'ac'")),  # 3
        ran("print('fine')", stdout("fine\n")),  # 4
        ran("print('extra')"),  # 5: saved without output
        ran("y = 1", stdout("1\n")),  # 6: saved with an output it no longer makes
    ]
    before = registry_state(registry)
    with pytest.raises(PublishRefused) as info:
        publish(registry, api(cells))
    hint = "; " + STALE_HINT
    assert [(p.check, p.cell, p.message) for p in info.value.details] == [
        ("validation", 2, "stdout output differs: expected '0.668\\n', got '0.6666666666666666\\n'" + hint),
        ("validation", 3, "text/plain output differs: expected \"'ac'\", got \"'ab'\"" + hint),
        ("validation", 5, "the new run produced stdout output 'extra\\n' that the stored notebook does not have" + hint),
        ("validation", 6, "expected stdout output '1\\n', but the new run produced none" + hint),
    ]
    assert "re-run the notebook with `gilgamesh run NOTEBOOK.ipynb` and save it" in hint
    assert registry_state(registry) == before
    assert not os.path.exists(cache_dir(registry)) or os.listdir(cache_dir(registry)) == []


def test_nbval_itself_agrees_except_for_the_float_tolerance(tmp_path):
    """pytest --nbval on the same fixtures fails exactly the cells we refuse, plus the 9th-digit ones."""
    nb_dir = tmp_path / "nbval"
    nb_dir.mkdir()
    (nb_dir / "markers.ipynb").write_bytes(api(MARKERS_CELLS))
    (nb_dir / "mismatch.ipynb").write_bytes(api([
        ran("print(2 / 3)", stdout("0.668\n")), ran("print('fine')", stdout("fine\n")), ran("y = 1", stdout("1\n")),
    ]))
    report = tmp_path / "junit.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "-p", "no:importnb", "-p", "no:cacheprovider", "-q",
         f"--junitxml={report}", "--rootdir", str(nb_dir), str(nb_dir)],
        capture_output=True, text=True, timeout=120, cwd=nb_dir,
    )
    failed = {
        (case.get("classname").split(".")[0], case.get("name"))
        for case in ET.parse(report).iter("testcase") if case.find("failure") is not None
    }
    # nbval numbers code cells from 0; "Cell 0" of markers is notebook cell 2 (its 9th-digit print),
    # "Cell 11" is notebook cell 13 (the other 9th-digit difference). We accept both.
    assert failed == {("markers", "Cell 0"), ("markers", "Cell 11"), ("mismatch", "Cell 0"), ("mismatch", "Cell 2")}


HOSTILE = [
    # (label, cells, settings, refused cell, message fragment)
    ("endless loop", [f.code("x = 1"), f.code("while True:\n    pass", "example")], {"validation_timeout": 3},
     3, "did not finish within the validation time limit of 3 s (validation_timeout)"),
    ("memory hog", [f.code("blocks = []\nwhile True:\n    blocks.append(bytearray(50_000_000))", "example")],
     {"validation_memory_mb": 768}, 2, "raised MemoryError (line 3: blocks.append(bytearray(50_000_000))) "
                                        "(the validation memory limit is 768 MB: validation_memory_mb)"),
    ("sys.exit", [f.code("import sys\nsys.exit(3)", "example"), f.code("print('after')")], {}, 2, "raised SystemExit: 3"),
    ("exit()", [f.code("exit()", "example"), f.code("print('after')")], {}, 2, "asked the kernel to exit"),
    ("os._exit", [f.code("x = 1"), f.code("import os\nos._exit(7)", "example")], {}, 3,
     "the kernel died while running this cell (exit status 7)"),
    ("kernel crash", [f.code("import ctypes\nctypes.string_at(0)", "example")], {}, 2,
     "the kernel died while running this cell (killed by signal SIGSEGV)"),
    ("cell raising", [f.code("def check(v):\n    raise ValueError(f'bad input {v}')"), f.code("check(2)", "example"), f.code("print('after')")],
     {}, 3, "raised ValueError: bad input 2 (line 1: check(2))"),
    ("background process", [f.code("x = 1"), f.code(
        "import subprocess\np = subprocess.Popen(['sleep', '{token}'], start_new_session=True)", "example"), f.code("y = 2")],
     {}, 3, "still running after the kernel ended (pid {pid}: sleep {token}); it was killed"),
    ("daemon", [f.code("x = 1"), f.code(
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        os.execvp('sleep', ['sleep', '{token}'])\n"
        "    os._exit(0)\n_ = os.wait()", "example"), f.code("y = 2")],
     {}, 3, "still running after the kernel ended (pid {pid}: sleep {token}); it was killed"),
]


@pytest.mark.parametrize("label, cells, settings, cell, fragment", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_notebooks_are_refused_naming_the_cell(registry, label, cells, settings, cell, fragment):
    token = str(900000 + os.getpid() % 1000 * 97 + len(label))  # a sleep duration no one else uses
    cells = [dict(c, source=c["source"].replace("{token}", token)) for c in cells]
    set_limits(registry, **{"validation_timeout": 20, "validation_memory_mb": 2048, **settings})
    timeout = settings.get("validation_timeout", 20)
    before = registry_state(registry)
    began = time.monotonic()
    with pytest.raises(PublishRefused) as info:
        publish(registry, api(cells))
    elapsed = time.monotonic() - began
    problems = [p for p in info.value.details if p.check == "validation"]
    assert len(problems) == 1, info.value.details
    assert problems[0].cell == cell
    expected = fragment.replace("{token}", token)
    if "{pid}" in expected:
        head, tail = expected.split("{pid}")
        assert head in problems[0].message and tail in problems[0].message, problems[0].message
    else:
        assert expected in problems[0].message
    assert elapsed < timeout + 120 + 5  # the time limit counts from the kernel's start (itself limited to 120 s)
    assert registry_state(registry) == before
    assert processes_mentioning(f"sleep {token}") == []
    assert not os.path.exists(cache_dir(registry)) or os.listdir(cache_dir(registry)) == []


def test_a_runner_that_overruns_is_killed_with_its_whole_tree(registry, monkeypatch):
    """Fault injection: the backstop fires before the runner's own clock (a runner that hangs)."""
    token = str(800000 + os.getpid() % 1000)
    # The backstop fires 30 s after the runner starts, the runner's own clock 300 s after the kernel answers.
    monkeypatch.setattr(validation, "GRACE_SECONDS", -(120.0 + 300.0 - 30.0))
    set_limits(registry, validation_timeout=300, validation_startup_timeout=120)
    cells = [f.code(f"import subprocess\np = subprocess.Popen(['sleep', '{token}'], start_new_session=True)\n"
                    "while True:\n    pass", "example")]
    began = time.monotonic()
    with pytest.raises(PublishRefused) as info:
        publish(registry, api(cells))
    assert time.monotonic() - began < 120
    assert [(p.cell, p.message) for p in info.value.details] == [(
        2,
        "the notebook did not finish within the validation time limit of 300 s (validation_timeout), "
        "and the validation run was killed; this cell was running")]
    assert processes_mentioning(f"sleep {token}") == []


def test_a_notebook_that_kills_its_runner_is_refused_and_its_processes_found(registry):
    """The runner dies (so its subreaper role with it): the run's processes are found by their environment."""
    token = str(700000 + os.getpid() % 1000)
    cells = [f.code("x = 1"), f.code(
        f"import os, signal, subprocess\np = subprocess.Popen(['sleep', '{token}'], start_new_session=True)\n"
        "os.kill(os.getppid(), signal.SIGKILL)", "example")]
    with pytest.raises(PublishRefused) as info:
        publish(registry, api(cells))
    assert [(p.cell, p.message.split(":")[0]) for p in info.value.details] == [
        (3, "the validation run ended before it could report (killed by signal 9); this cell was running")]
    assert processes_mentioning(f"sleep {token}") == []


# -- the cache --------------------------------------------------------------------------------------

def test_content_that_already_validated_does_not_run_again(registry, tmp_path):
    set_limits(registry, sandbox=False)  # the kernel counts its runs in a file outside its scratch
    runs = tmp_path / "runs.log"
    data = api([f.code(f"_ = open({str(runs)!r}, 'a').write('ran\\n')", "example")])
    checked = publish(registry, data, dry_run=True)  # `gilgamesh validate`
    assert checked.metadata["validation"]["cached"] is False
    assert runs.read_text() == "ran\n"
    published = publish(registry, data)
    assert published.created and published.metadata["validation"]["cached"] is True
    assert published.metadata["validation"]["passed"] is True
    assert runs.read_text() == "ran\n"  # the kernel did not run again
    assert len(os.listdir(cache_dir(registry))) == 1


def test_gilgamesh_validate_then_publish_runs_the_kernel_once(registry, tmp_path):
    """The user's path: `gilgamesh validate NB` then `gilgamesh publish NB`, two processes."""
    set_limits(registry, sandbox=False)  # the kernel counts its runs in a file outside its scratch
    runs = tmp_path / "runs.log"
    nb_path = tmp_path / "counted.ipynb"
    nb_path.write_bytes(api([ran(f"_ = open({str(runs)!r}, 'a').write('ran\\n')\nprint(1 / 3)",
                                 stdout("0.333333333\n"), tags=("example",))]))
    env = {**os.environ, "GILGAMESH_REGISTRY": registry}
    env.pop("GILGAMESH_TOKEN", None)
    for command in ("validate", "publish"):
        done = subprocess.run([sys.executable, "-m", "gilgamesh", command, str(nb_path), "--json"],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
    assert runs.read_text() == "ran\n"
    from gilgamesh.registry.store.git_store import Store

    stored = Store(registry).read_metadata("demo", "1.0.0")["validation"]
    assert stored["passed"] is True and stored["cached"] is True and stored["compared"] == 1


def test_the_cache_key_follows_the_dependency_closure(registry):
    def dep(name, version, source="def f(x):\n    return x"):
        return api([f.markdown("Doc."), f.code(source)], name=name, version=version)

    publish(registry, dep("base", "1.0.0"), validate=False)
    publish(registry, dep("mid", "1.0.0", "from gilgamesh.api.base@1 import f as g\ndef f(x):\n    return g(x)"), validate=False)
    reader = LocalReader(registry)
    data = api([f.code("from gilgamesh.api.mid.v1 import f")])
    key = validation_key(data, reader, {"mid": "1.0.0"})
    assert validation.dependency_closure(reader, {"mid": "1.0.0"}).keys() == {"mid@1.0.0", "base@1.0.0"}
    assert validation_key(data, reader, {"mid": "1.0.0"}) == key
    publish(registry, dep("other", "1.0.0"), validate=False)
    assert validation_key(data, reader, {"mid": "1.0.0"}) == key  # unrelated: same key
    publish(registry, dep("base", "1.1.0", "def f(x):\n    return x\n\ndef h(x):\n    return x"), validate=False)
    # mid 1.0.0 runs the base it was published against (1.0.0), whatever base@1 means now.
    assert validation_key(data, reader, {"mid": "1.0.0"}) == key
    publish(registry, dep("mid", "1.0.1", "from gilgamesh.api.base@1 import f as g\ndef f(x):\n    return g(x)"),
            validate=False)
    assert validation.dependency_closure(reader, {"mid": "1.0.1"}) == {
        "mid@1.0.1": reader.entry("mid", "1.0.1")["sha256"], "base@1.1.0": reader.entry("base", "1.1.0")["sha256"]}
    assert validation_key(data + b" ", reader, {"mid": "1.0.0"}) != validation_key(data, reader, {"mid": "1.0.0"})


# -- imports from the registry being published to ----------------------------------------------------

def test_the_kernel_imports_apis_from_the_registry_published_to(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("GILGAMESH_REGISTRY", str(tmp_path / "not-this-one"))
    monkeypatch.setenv("GILGAMESH_CACHE", str(tmp_path / "user-cache"))
    base = api([f.markdown("Double a number."), f.code('def double(x: float) -> float:\n    return 2 * x')], name="base")
    publish(registry, base, validate=False)
    cells = [
        ran("from gilgamesh.api.base.v1 import double\nprint(double(2.5))", stdout("5.0\n")),  # Python spelling
        ran("import gilgamesh.api.base@1.0 as b\nprint(b.double(1.25), b.__name__)", stdout("2.5 gilgamesh.api.base.v1_0_0\n"),
            tags=("example",)),  # the notebook spelling, through the IPython extension
        ran("from gilgamesh.api.base@1.0.0 import double as d\nprint(d is double)", stdout("True\n"), tags=("example",)),
    ]
    out = publish(registry, api(cells, name="user"))
    assert out.created and out.metadata["dependencies"] == {"base": "1.0.0"}
    assert out.metadata["validation"]["compared"] == 3
    assert not (tmp_path / "user-cache").exists()  # the kernel had a private cache


def test_a_registry_requiring_the_sandbox_runs_no_code_where_bwrap_is_missing(registry, tmp_path, monkeypatch):
    """No silent fallback: init wrote require_sandbox (bwrap is installed); without bwrap nothing runs."""
    from gilgamesh.registry.store.settings import read_settings

    assert read_settings(registry)["require_sandbox"] is True
    bin_dir = tmp_path / "bin"  # a PATH with git, without bwrap
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(shutil.which("git"))
    monkeypatch.setenv("PATH", str(bin_dir))
    ran = tmp_path / "ran"
    before = registry_state(registry)
    with pytest.raises(PublishRefused) as info:
        publish(registry, api([f.code(f"open({str(ran)!r}, 'w').close()", "example")]))
    message = str(info.value)
    assert "requires the sandbox" in message and "bubblewrap is not installed" in message, message
    assert not ran.exists() and registry_state(registry) == before


def test_the_sandbox_keeps_writes_in_scratch_and_the_token_store_out_of_reach(registry, tmp_path):
    """With bubblewrap installed, a notebook can neither write outside its scratch nor read tokens.json."""
    from gilgamesh.registry.store.tokens import create_token

    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap (bwrap) is not installed: `make test` installs it")
    create_token(registry, "alice")
    outside = tmp_path / "outside.txt"
    for code, expected in (
        (f"open({str(outside)!r}, 'w').write('escaped')", "Permission denied"),  # an empty dir of root's
        (f"print(open({os.path.join(registry, 'tokens.json')!r}).read())", "No such file or directory"),
        (f"open({os.path.join(registry, 'index', 'evil.json')!r}, 'w').write('{{}}')", "Read-only file system"),
    ):
        before = registry_state(registry)
        with pytest.raises(PublishRefused) as info:
            publish(registry, api([f.code(code, "example")]))
        assert expected in str(info.value)
        assert registry_state(registry) == before
    assert not outside.exists()
    # Imports of the registry's APIs still work inside the sandbox.
    publish(registry, f.simple_api("dep", "1.0.0"), validate=False)
    passed = publish(registry, api([f.code("from gilgamesh.api.dep@1 import scale\nassert scale(2.0) == 4.0", "example")]))
    assert passed.metadata["validation"]["sandboxed"] is True

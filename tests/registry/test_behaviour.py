"""Step 3b, behaviour replay: golden calls recorded at publish, replayed against MINOR and PATCH successors.

One module-scoped registry and four validation kernels: demo 1.0.0 is published (its example
cell calls a float function, an array function, one returning a figure, one whose result depends
on state, and one that raises); 1.0.1 with both results changed by 1 % is refused through the
CLI; the same 1.0.1 naming both in ``metadata.gilgamesh.changed`` is accepted, and ``diff``,
``resolve --json``, the HTTP metadata and the docs page show the reasons; an API whose 1.0.0
was published without golden calls (as before they existed) publishes its 1.0.1.
"""

from __future__ import annotations

import json
import math
import os
import sys

import pytest

import nbfactory as f
from gilgamesh import cli
from gilgamesh.errors import PublishRefused
from gilgamesh.registry.compat.replay import replay_source
from gilgamesh.registry.compare.golden_values import Unrecordable, decode, encode, same, show
from gilgamesh.registry.publish.pipeline import publish
from gilgamesh.registry.store.git_store import Store, init_registry
from support import registry_state, run_cli

pytestmark = pytest.mark.slow


EXAMPLES = ("a = scale(1.5)\nb = scale(2.0, factor=3.0)\ng = grid(5)\nh = figure(3)\nt = tick()\n"
            "try:\n    scale('x', None)\nexcept TypeError:\n    pass")


def demo(version: str, *, factor: str = "1.0", curve: str = "1.0", changed: dict | None = None,
         examples: str = EXAMPLES) -> bytes:
    """The demo API; ``factor`` and ``curve`` scale what ``scale`` and ``grid`` return."""
    cells = [
        f.markdown("# demo\n\nScaling, grids and figures."),
        f.code("import numpy as np\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n\n_ticks = [0]"),
        f.markdown("Scale a length."),
        f.code(f"def scale(x: float, factor: float = 2.0) -> float:\n    return x * factor * {factor}"),
        f.markdown("A grid of squares."),
        f.code(f"def grid(n: int) -> np.ndarray:\n    return np.linspace(0.0, 1.0, n) ** 2 * {curve}"),
        f.markdown("A figure."),
        f.code("def figure(n: int):\n    fig = plt.figure()\n    plt.close(fig)\n    return fig"),
        f.markdown("A counter."),
        f.code("def tick() -> int:\n    _ticks[0] += 1\n    return _ticks[0]"),
        f.code(examples, "example"),
    ]
    meta = {} if changed is None else {"changed": changed}
    return f.to_bytes(f.notebook("demo", version, cells, **meta))


def plain(version: str) -> bytes:
    cells = [f.markdown("# old\n\nAn API published before golden calls."),
             f.markdown("Double."), f.code("def double(x: float) -> float:\n    return 2 * x"),
             f.code("y = double(4.0)", "example")]
    return f.to_bytes(f.notebook("old", version, cells))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("behaviour") / "registry")
    init_registry(root)
    return root


@pytest.fixture(scope="module")
def first(root):
    return publish(root, demo("1.0.0"), publisher="t").to_dict()


def test_golden_calls_recorded_with_the_version(root, first):
    store = Store(root)
    meta = store.read_metadata("demo", "1.0.0")
    data = store.read_version_file("demo", "1.0.0", "golden.json")
    import hashlib

    assert meta["golden"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert meta["golden"]["functions"] == {"scale": 3, "grid": 1}
    calls = json.loads(data)["calls"]
    assert [(c["function"], c["args"], c["kwargs"]) for c in calls] == [
        ("scale", [1.5], {}), ("scale", [2.0], {"factor": 3.0}), ("grid", [5], {}), ("scale", ["x", None], {})]
    assert calls[0]["result"] == 3.0 and calls[3]["raises"] == "TypeError" and calls[0]["cell"] == 11
    array = calls[2]["result"]["$ndarray"]
    assert array == {"dtype": "float64", "shape": [5], "data": [0.0, 0.0625, 0.25, 0.5625, 1.0]}
    # What could not be recorded is said, by name and count: an object, a result that depends on state.
    behaviour = first["behaviour"]
    assert behaviour["recorded"] == {"scale": 3, "grid": 1}
    assert behaviour["skipped"] == {"figure": 1, "tick": 1}
    assert behaviour["skipped_reasons"]["figure"] == ["its result is a matplotlib.figure.Figure"]
    assert "state or chance" in behaviour["skipped_reasons"]["tick"][0]
    # The example's own namespace is left as it was: the names hold the functions again.
    assert "replayed" not in behaviour  # nothing before 1.0.0


def test_a_one_percent_change_is_refused_naming_the_call(root, first, tmp_path):
    path = tmp_path / "demo-1.0.1.ipynb"
    path.write_bytes(demo("1.0.1", factor="1.01", curve="1.01"))
    before = registry_state(root)
    done = run_cli("publish", path, "--registry", root)
    assert done.returncode == 1, done.stdout + done.stderr
    err = done.stderr
    assert "scale behaves differently from demo@1.0.0 (2 of its 3 golden calls differ)" in err
    assert "scale(1.5) returned 3.0 in 1.0.0, now 3.03" in err
    assert "grid behaves differently from demo@1.0.0 (1 of its 1 golden calls differ)" in err
    assert "grid(5) returned array([0.0, 0.0625, 0.25, 0.5625, 1.0], shape=(5,), dtype=float64) in 1.0.0, now array([0.0, 0.063125" in err
    assert "recorded in cell 11 of 1.0.0" in err and "publish the change as 2.0.0" in err
    assert 'metadata.gilgamesh.changed, e.g. {"scale": "why the result changed"}' in err
    assert registry_state(root) == before


@pytest.fixture(scope="module")
def accepted(root, first):
    changed = {"scale": "the factor now includes the sheath correction", "grid": "squares of the corrected grid"}
    # Its examples no longer call scale(2.0, factor=3.0): that call stays golden, with the new result.
    examples = EXAMPLES.replace("b = scale(2.0, factor=3.0)\n", "")
    return publish(root, demo("1.0.1", factor="1.01", curve="1.01", changed=changed, examples=examples),
                   publisher="t").to_dict()


def test_a_change_named_with_a_reason_is_accepted_and_shown(root, first, accepted, capsys):
    assert accepted["created"]
    assert accepted["behaviour"]["replayed"] == {"version": "1.0.0", "calls": 4, "missing": 0}
    # The golden calls' own cost is measured, part by part (bench/bench_publish.py reports it).
    seconds = accepted["behaviour"]["seconds"]
    assert set(seconds) == {"record", "rerun", "replay", "compare"}
    assert all(0 <= s < 5 for s in seconds.values()) and seconds["record"] > 0
    assert set(first["behaviour"]["seconds"]) == {"record", "rerun", "compare"}  # nothing to replay
    scale = accepted["changed"]["scale"]
    assert scale["reason"] == "the factor now includes the sheath correction"
    assert (scale["differences"], scale["replayed"]) == (2, 3)
    assert scale["example"].startswith("scale(1.5) returned 3.0 in 1.0.0, now 3.03")
    # 1.0.1's own calls are its golden calls now, and 1.0.0's call its examples no longer make.
    assert accepted["behaviour"]["recorded"] == {"scale": 2, "grid": 1}
    assert accepted["behaviour"]["inherited"] == {"scale": 1}
    assert Store(root).read_metadata("demo", "1.0.1")["golden"]["functions"] == {"scale": 3, "grid": 1}
    calls = json.loads(Store(root).read_version_file("demo", "1.0.1", "golden.json"))["calls"]
    kept = [c for c in calls if c.get("recorded_in")]
    assert [(c["args"], c["kwargs"], c["recorded_in"]) for c in kept] == [([2.0], {"factor": 3.0}, "1.0.0")]
    assert math.isclose(kept[0]["result"], 6.06)

    assert cli.main(["diff", "demo@1.0.0", "demo@1.0.1", "--registry", root]) == 0
    out = capsys.readouterr().out
    assert "PATCH scale: behaviour changed in 1.0.1: the factor now includes the sheath correction" in out
    assert "(2 of 3 golden calls differ, e.g. scale(1.5) returned 3.0 in 1.0.0, now 3.03" in out
    assert cli.main(["diff", "demo@1.0.0", "demo@1.0.1", "--registry", root, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = [c for c in data["changes"] if c["kind"] == "behaviour-changed"]
    assert {(r["name"], r["reason"], r["bump"]) for r in rows} == {
        ("scale", "the factor now includes the sheath correction", "patch"),
        ("grid", "squares of the corrected grid", "patch")}
    assert data["required"] == "patch"
    assert cli.main(["resolve", "demo@1", "--registry", root, "--json"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["version"] == "1.0.1"
    assert resolved["changed"]["grid"]["reason"] == "squares of the corrected grid"


def test_http_metadata_and_docs_page_show_the_change(root, accepted):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "service"))
    from service_kit import Server, http

    server = Server(root, model_workers=1).start()
    try:
        meta = http("GET", f"{server.url}/api/notebooks/demo/1.0.1").json()
        assert meta["changed"]["scale"]["reason"] == "the factor now includes the sheath correction"
        assert http("GET", f"{server.url}/api/notebooks/demo/1.0.0").json()["changed"] == {}
        page = http("GET", f"{server.url}/docs/demo/1.0.1", headers={"Accept": "text/html"}).body.decode()
        assert "Behaviour changed in this version" in page
        assert "<code>scale</code>: the factor now includes the sheath correction" in page
    finally:
        server.stop()


def test_a_major_bump_replays_nothing_and_0x_replays_only_patches(root, accepted):
    store = Store(root)
    assert replay_source(store, "demo", "1.0.2")["version"] == "1.0.1"
    assert replay_source(store, "demo", "1.1.0")["version"] == "1.0.1"
    assert replay_source(store, "demo", "2.0.0") is None
    assert replay_source(store, "nothing", "1.0.0") is None


def test_changed_must_name_public_functions_with_reasons(root, first):
    with pytest.raises(PublishRefused) as e:
        publish(root, demo("1.0.2", changed={"scael": "typo", "UNIT": "x"}), validate=False)
    assert any("metadata.gilgamesh.changed names UNIT, scael, which are not public functions of demo@1.0.2" in p.message
               for p in e.value.details)
    with pytest.raises(PublishRefused) as e:
        publish(root, demo("1.0.2", changed={"scale": ""}), validate=False)
    assert any("metadata.gilgamesh.changed: scale needs a reason" in p.message for p in e.value.details)
    with pytest.raises(PublishRefused) as e:
        publish(root, demo("1.0.2", changed=["scale"]), validate=False)
    assert any("metadata.gilgamesh.changed must be an object" in p.message for p in e.value.details)


def test_a_version_without_golden_calls_is_a_fine_predecessor(root):
    publish(root, plain("1.0.0"), validate=False)  # its gilgamesh.json has no golden calls, as before them
    assert "golden" not in Store(root).read_metadata("old", "1.0.0")
    assert replay_source(Store(root), "old", "1.0.1") is None
    out = publish(root, plain("1.0.1")).to_dict()
    assert out["created"] and "replayed" not in out["behaviour"]
    assert out["behaviour"]["recorded"] == {"double": 1}
    assert cli.main(["diff", "old@1.0.0", "old@1.0.1", "--registry", root]) == 0


# -- the values of golden calls, without a kernel ------------------------------------------------------

def test_values_round_trip_and_compare_under_the_tolerance():
    import numpy as np

    value = {"a": (1, 2.5, float("nan")), 3: [True, None, "x"], "z": np.arange(6, dtype=np.int32).reshape(2, 3),
             "s": np.float32(1.5), "c": 1 + 2j, "f": np.array([1.0, np.inf])}
    encoded = encode(value)
    assert json.loads(json.dumps(encoded)) == encoded  # plain JSON, no NaN literal
    back = decode(encoded)
    assert back[3] == [True, None, "x"] and back["a"][:2] == (1, 2.5) and math.isnan(back["a"][2])
    assert back["z"].dtype == np.int32 and back["z"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert back["s"] == np.float32(1.5) and type(back["s"]) is np.float32 and back["c"] == 1 + 2j
    assert same(encoded, encode(decode(encoded)), 0)
    assert same(encode([1.0, "T_e = 3.0 eV"]), encode([1.0 + 1e-9, "T_e = 3.000000001 eV"]), 1e-6)
    assert not same(encode(1.0), encode(1.01), 1e-6) and not same(encode(3), encode(4), 0.5)
    assert not same(encode(1000), encode(1000.0), 0) and same(encode(1000), encode(1000.0), 1e-6)
    assert not same(encode(np.zeros(3)), encode(np.zeros(4)), 1e-6)
    assert not same(encode((1, 2)), encode([1, 2]), 1e-6)
    with pytest.raises(Unrecordable, match="a object|too large"):
        encode(np.zeros(20_000))
    with pytest.raises(Unrecordable, match="a builtins.object|a object"):
        encode([object()])
    assert show(encode(list(range(100))), 30).endswith("...")

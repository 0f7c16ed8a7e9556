"""Concurrent patches of one API: a predecessor that lands while a publish validates is replayed too.

A publish validates outside the writer lock; when it finds under the lock that a new predecessor
with golden calls of its own landed meanwhile, it replays those calls as well and stores, rather
than asking to publish again. A real incompatibility with that predecessor is still refused.

The ordered cases hold a publish inside its validation with a gate file that its example cell
waits for, so every assertion is about an order the test made, not about timing. The gates live
in the test's tmp_path, which a contained kernel cannot see by design: this registry runs
unsandboxed (containment is tested in tests/reliability).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import nbfactory as f
from support import unsandboxed
from gilgamesh.registry.publish.pipeline import publish
from gilgamesh.registry.store.git_store import Store, init_registry

pytestmark = pytest.mark.slow


def demo(version: str, *, factor: str = "1.0", examples: str = "a = scale(1.5)\nb = scale(2.0, factor=3.0)",
         changed: dict | None = None) -> bytes:
    cells = [
        f.markdown("# demo\n\nScaling lengths."),
        f.code("import os\nimport time"),
        f.markdown("Scale a length."),
        f.code(f"def scale(x: float, factor: float = 2.0) -> float:\n    return x * factor * {factor}"),
        f.code(examples, "example"),
    ]
    meta = {} if changed is None else {"changed": changed}
    return f.to_bytes(f.notebook("demo", version, cells, **meta))


def gated(version: str, started: str, gate: str) -> bytes:
    """A compatible patch whose example cell says it started, then waits for the test's gate."""
    wait = (f"open({started!r}, 'a').close()\n"
            "deadline = time.monotonic() + 120\n"
            f"while not os.path.exists({gate!r}) and time.monotonic() < deadline:\n"
            "    time.sleep(0.02)\n"
            "a = scale(1.5)")
    return demo(version, examples=wait)


@pytest.fixture
def root(tmp_path):
    root = str(tmp_path / "registry")
    init_registry(root)
    unsandboxed(root)
    publish(root, demo("1.0.0"), publisher="t")
    return root


def _write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _publish_in_background(tmp_path, data: bytes, root: str) -> subprocess.Popen:
    path = _write(tmp_path, "held.ipynb", data)
    return subprocess.Popen([sys.executable, "-m", "gilgamesh", "publish", path, "--json", "--registry", root],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the held publish never reached its example cell"
        time.sleep(0.02)


def _replayed(root: str, version: str) -> dict:
    meta = Store(root).read_metadata("demo", version)
    return {"predecessor": meta["predecessor"],
            "replayed": (meta["validation"]["behaviour"].get("replayed") or {}).get("version")}


def test_a_predecessor_landing_during_validation_is_replayed_and_the_patch_lands(tmp_path, root):
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    held = _publish_in_background(tmp_path, gated("1.0.2", started, gate), root)
    _wait_for(started, held)
    publish(root, demo("1.0.1"), publisher="t")  # lands while 1.0.2 validates against 1.0.0's calls
    open(gate, "w").close()
    out, err = held.communicate(timeout=300)
    assert held.returncode == 0, err
    report = json.loads(out)["results"][0]
    assert report["created"] and report["predecessor"] == "1.0.1"
    assert report["behaviour"]["replayed"]["version"] == "1.0.1"  # 1.0.1's golden calls, replayed
    assert _replayed(root, "1.0.2") == {"predecessor": "1.0.1", "replayed": "1.0.1"}
    # What it stores as its own golden calls carries on from 1.0.1's, the one below it now.
    calls = json.loads(Store(root).read_version_file("demo", "1.0.2", "golden.json"))["calls"]
    assert {c.get("recorded_in") for c in calls if "recorded_in" in c} <= {"1.0.1", "1.0.0"}
    assert any(c["kwargs"] == {"factor": 3.0} for c in calls)  # 1.0.1's call its examples no longer make


def test_a_predecessor_that_changed_results_meanwhile_still_refuses_the_patch(tmp_path, root):
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    held = _publish_in_background(tmp_path, gated("1.0.2", started, gate), root)
    _wait_for(started, held)
    # 1.0.1 changes scale's results on purpose; 1.0.2 still computes 1.0.0's.
    publish(root, demo("1.0.1", factor="1.01", changed={"scale": "calibrated"}), publisher="t")
    open(gate, "w").close()
    out, err = held.communicate(timeout=300)
    assert held.returncode == 1, out
    assert "scale behaves differently from demo@1.0.1" in err
    assert "scale(1.5) returned 3.03" in err and "in 1.0.1, now 3.0 " in err, err
    assert "publish again" not in err
    assert sorted(v for _, v in Store(root).tag_commits()) == ["1.0.0", "1.0.1"]


def test_concurrent_compatible_patches_all_land_each_replaying_the_one_below(tmp_path, root):
    versions = [f"1.0.{i}" for i in range(1, 6)]
    paths = [_write(tmp_path, f"{v}.ipynb", demo(v)) for v in versions]
    procs = [subprocess.Popen([sys.executable, "-m", "gilgamesh", "publish", p, "--registry", root],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in paths]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    assert all(rc == 0 for rc, _ in results), results
    for version in versions:
        seen = _replayed(root, version)
        # Whatever order they landed in, each replayed the golden calls of the version below it then.
        assert seen["predecessor"] == seen["replayed"] and seen["predecessor"] in ["1.0.0", *versions], (version, seen)

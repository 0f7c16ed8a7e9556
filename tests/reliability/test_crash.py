"""Crashes: a real ``python -m gilgamesh publish`` killed with SIGKILL at random points.

Each trial starts a publish and kills its process group at a seeded random moment, then checks
every invariant a crash could break (:func:`reliability_kit.assert_registry_consistent`): every
tag complete with content matching its sha256, the index equal to one rebuilt from the tags,
``git fsck --strict`` clean, no journal left once a reader has opened the registry; then the
next publish must succeed.

Where the kills land. A publish spends most of its life starting Python and validating; the
store's write path (objects, journal, tag, branch, index) is a few milliseconds at its end. So the
candidate notebooks are validated once up front (``gilgamesh validate`` fills the registry's
validation cache, keyed by content), which makes every publish of them a short run that ends in
the write path, and the kill moments are drawn three ways:

* ``anywhere``: uniform over the measured duration of a whole publish;
* ``late``: uniform over its second half and a little past it (where the write path is);
* ``journal``: the moment ``journal.json`` appears, plus up to 2 ms: inside the write itself.

A candidate killed before it landed is tried again in the next trial (the same crash point is
rarely hit twice); once it has landed the next candidate is used. When the pool is used up, a
new lineage starts from a copy of the validated base registry, so a few validations serve any
number of trials. After every trial a fresh version of the same API is published in-process
(through the whole pipeline except the nbval run, which is not what a crash can break): that is
"the next publish succeeds", and it must settle whatever the crash left.

``GILGAMESH_CRASH_TRIALS`` (default 100) and ``GILGAMESH_CRASH_SEED`` change the run.
"""

from __future__ import annotations

import collections
import fcntl
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time

import psutil
import pytest

import nbfactory as f
from reliability_kit import assert_registry_consistent, git, tag_commits

TRIALS = int(os.environ.get("GILGAMESH_CRASH_TRIALS", "100"))
SEED = int(os.environ.get("GILGAMESH_CRASH_SEED", "7"))
POOL = 6  # candidate versions validated once, reused by every lineage
API = "crash"


def _candidate(k: int) -> bytes:
    return f.simple_api(API, f"1.{k}.0")


def _publish_cmd(path: str, root: str) -> list[str]:
    return [sys.executable, "-m", "gilgamesh", "publish", path, "--registry", root]


def _start(path: str, root: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(_publish_cmd(path, root), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)


def _kill_group(proc: subprocess.Popen) -> list[psutil.Process]:
    """SIGKILL the publish's process group; return any descendant that was outside it."""
    try:
        others = [p for p in psutil.Process(proc.pid).children(recursive=True)
                  if os.getpgid(p.pid) != proc.pid]
    except (psutil.NoSuchProcess, ProcessLookupError):
        others = []
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return others


def _wait_until_unlocked(root: str, timeout: float = 30.0) -> None:
    """Wait until no process holds the writer lock (a killed group's last members die a little
    after its leader is reaped); then a reader can settle what they left, as it would after a crash."""
    fd = os.open(os.path.join(root, "write.lock"), os.O_RDWR)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                assert time.monotonic() < deadline, "the writer lock is still held after its writer was killed"
                time.sleep(0.005)
    finally:
        os.close(fd)


def _loose_objects(root: str) -> int:
    return int(git(root, "count-objects").stdout.split()[0])


def _measure_publish_seconds(base: str, path: str, scratch: str, env: dict) -> float:
    """Median wall time of an uninterrupted publish of a validated candidate (in fresh copies)."""
    times = []
    for i in range(3):
        copy = os.path.join(scratch, f"timing-{i}")
        shutil.copytree(base, copy)
        start = time.perf_counter()
        out = subprocess.run(_publish_cmd(path, copy), capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - start)
        assert out.returncode == 0, out.stderr
        assert "published crash@1.1.0" in out.stdout
        shutil.rmtree(copy)
    return statistics.median(times)


@pytest.mark.slow
def test_sigkill_at_random_points_never_loses_or_corrupts_a_version(tmp_path, figures):
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    rng = random.Random(SEED)
    env = dict(os.environ, GILGAMESH_CACHE=str(tmp_path / "cache"), GILGAMESH_USER="crash-test")
    env.pop("GILGAMESH_TOKEN", None)
    base = str(tmp_path / "base")
    init_registry(base)
    publish(base, f.simple_api(API, "1.0.0"), validate=False)  # a predecessor: the semver step runs
    paths = []
    for k in range(1, POOL + 1):
        paths.append(str(tmp_path / f"candidate-{k}.ipynb"))
        with open(paths[-1], "wb") as fh:
            fh.write(_candidate(k))
    validated = subprocess.run([sys.executable, "-m", "gilgamesh", "validate", *paths, "--registry", base],
                               capture_output=True, text=True, env=env)
    assert validated.returncode == 0, validated.stderr
    seconds = _measure_publish_seconds(base, paths[0], str(tmp_path), env)

    outcomes: collections.Counter = collections.Counter()
    modes: collections.Counter = collections.Counter()
    lineage, root, pool, landed_total, probes, stray = 0, None, [], 0, 0, 0
    for trial in range(TRIALS):
        if not pool:
            lineage += 1
            root = str(tmp_path / f"lineage-{lineage}")
            shutil.copytree(base, root)
            pool = list(range(POOL))
            checked = None
        k = pool[0]
        version = f"1.{k + 1}.0"
        before = tag_commits(root)
        objects_before = _loose_objects(root)
        journal = os.path.join(root, "journal.json")

        mode = rng.choice(("anywhere", "late", "journal"))
        modes[mode] += 1
        proc = _start(paths[k], root, env)
        if mode == "journal":
            extra = rng.uniform(0, 0.002)
            while proc.poll() is None and not os.path.exists(journal):
                pass  # spin: the write path lasts milliseconds
            deadline = time.perf_counter() + extra
            while time.perf_counter() < deadline:
                pass
        else:
            low, high = (0.0, seconds) if mode == "anywhere" else (seconds * 0.5, seconds * 1.1)
            try:
                proc.wait(timeout=rng.uniform(low, high))
            except subprocess.TimeoutExpired:
                pass
        finished = proc.poll() is not None
        stray += len(_kill_group(proc))
        proc.wait()
        _wait_until_unlocked(root)
        stderr = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        if finished:
            assert proc.returncode == 0, stderr

        journal_left = os.path.exists(journal)
        after_raw = tag_commits(root)  # before any reader settles the journal
        landed = (API, version) in after_raw
        if finished:
            outcome = "completed before the kill"
        elif journal_left:
            outcome = "killed mid-write, version landed" if landed else "killed mid-write, before the tag"
        elif landed:
            outcome = "killed after the write, version landed"
        elif _loose_objects(root) != objects_before:
            outcome = "killed while writing objects"
        else:
            outcome = "killed before writing"
        outcomes[outcome] += 1

        after = assert_registry_consistent(root, str(tmp_path), checked=checked)
        assert {t: c for t, c in after.items() if t in before} == before, "a published version moved"
        assert set(after) - set(before) <= {(API, version)}
        checked = after
        if landed:
            pool.pop(0)
            landed_total += 1

        # The next publish succeeds (and settles anything the crash left behind).
        probe_version = f"2.0.{trial}"
        outcome_probe = publish(root, f.simple_api(API, probe_version), validate=False)
        assert outcome_probe.created
        probes += 1
        assert tag_commits(root)[(API, probe_version)]

    # Every candidate still pending publishes with the real command line, uninterrupted.
    for k in pool:
        done = subprocess.run(_publish_cmd(paths[k], root), capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
    final = assert_registry_consistent(root, str(tmp_path))
    assert {(API, f"1.{k + 1}.0") for k in range(POOL)} <= set(final)

    figures("trials (SIGKILL of the publish process group)", TRIALS)
    figures("seed", SEED)
    figures("median uninterrupted publish (s)", f"{seconds:.3f}")
    figures("kill modes", dict(modes))
    figures("outcomes", dict(outcomes))
    figures("versions landed by killed or racing publishes", landed_total)
    figures("next publishes after a crash, all succeeded", probes)
    figures("lineages", lineage)
    figures("processes left outside the killed group", stray)
    figures("versions lost or corrupted", 0)
    assert stray == 0
    # The trials must have reached the write path, or they prove little.
    assert outcomes["killed mid-write, version landed"] + outcomes["killed mid-write, before the tag"] >= TRIALS // 10

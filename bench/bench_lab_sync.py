"""Lab sync benchmark: the lab's own registry (``make seed``) synced whole into an empty one, and a no-op sync.

The source is seeded once exactly as ``make seed`` does it (``gilgamesh init``, ``gilgamesh bib
add api_notebooks/references.bib``, ``gilgamesh publish api_notebooks/*/*.ipynb``, validation
included): every version of its three APIs, each version tree with its golden calls, and the
bibliography branch. Rows, each a median over fresh rounds, against the anchor measured in the
same run, ``git fetch`` of the same refs (``refs/tags/*``, ``refs/records/*``,
``refs/heads/bibliography``) into an empty bare repository (git's own cost of moving the objects,
which a sync cannot beat):

1. ``sync`` of the whole lab registry into an empty registry over a path (in-process,
   ``gilgamesh.registry.sync.sync``): objects, version tags, records, the bibliography, the index,
   the blobs, the ``api/*`` branches;
2. a no-op ``sync`` of that registry from the same source. Target: <= 0.5 s.

Every round checks that the sync brought every version and every bibliography entry.
Run: ``python bench/bench_lab_sync.py [--rounds N]``; exits 1 if a sync is incomplete or the
target is missed.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOOP_TARGET = 0.5
NOOP_PER_ROUND = 3
ANCHOR_REFSPECS = ["refs/tags/*:refs/tags/*", "refs/records/*:refs/records/*",
                   "refs/heads/bibliography:refs/heads/bibliography"]


def _cli(*args: str, cache: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GILGAMESH_")}
    env.update({"GILGAMESH_CACHE": cache, "GILGAMESH_USER": "bench"})
    done = subprocess.run([sys.executable, "-m", "gilgamesh", *args], cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"gilgamesh {' '.join(args[:2])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def seed(root: str, cache: str) -> int:
    """The lab registry as ``make seed`` makes it; returns the number of notebooks published."""
    notebooks = sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "api_notebooks", "*", "*.ipynb")))
    _cli("init", "--registry", root, cache=cache)
    _cli("bib", "add", "--registry", root, "api_notebooks/references.bib", cache=cache)
    _cli("publish", "--registry", root, *notebooks, cache=cache)
    return len(notebooks)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from gilgamesh.registry.facade import LocalRegistry
    from gilgamesh.registry.store.reader import LocalReader
    from gilgamesh.registry.store.git_store import init_registry
    from gilgamesh.registry.sync import git_source, sync

    work = tempfile.mkdtemp(prefix="bench-lab-sync-")
    try:
        source = os.path.join(work, "lab")
        t0 = time.perf_counter()
        count = seed(source, os.path.join(work, "cache"))
        print(f"source: the lab registry, {count} notebooks published as make seed does, in {time.perf_counter() - t0:.1f} s")
        reader = LocalReader(source)
        expected = {name: sorted(reader.api_index(name)["versions"]) for name in reader.names()}
        entries = sorted(LocalRegistry(source, "bench").bibliography())
        print(f"        {sum(map(len, expected.values()))} versions of {len(expected)} APIs, {len(entries)} bibliography entries")
        print(f"load average: {os.getloadavg()[0]:.2f} (2 cores shared)")
        store = git_source(source)
        rows: dict[str, list[float]] = {"git fetch (anchor)": [], "sync, path": [], "no-op sync, path": []}
        problems = []
        for r in range(args.rounds):
            bare = os.path.join(work, f"bare-{r}")
            subprocess.run(["git", "init", "-q", "--bare", bare], check=True)
            rows["git fetch (anchor)"].append(_timed(lambda: subprocess.run(
                ["git", "--git-dir", bare, "fetch", "-q", "--no-tags", store, *ANCHOR_REFSPECS], check=True)))
            target = os.path.join(work, f"empty-{r}")
            init_registry(target)
            report = None

            def run():
                nonlocal report
                report = sync(target, source)
            try:
                rows["sync, path"].append(_timed(run))
            except Exception as e:  # noqa: BLE001 - a broken sync is a result of the benchmark
                problems.append(f"round {r}: sync raised {type(e).__name__}: {e}")
                break
            adopted = {name: sorted(v) for name, v in report.adopted.items()}
            got = sorted(LocalRegistry(target, "bench").bibliography())
            if not report.ok or adopted != expected or got != entries:
                refused = "; ".join(f"{x['ref']}: {x['reason']}" for x in report.refused[:2])
                problems.append(f"round {r}: incomplete sync (ok={report.ok}, {sum(map(len, adopted.values()))} of "
                                f"{sum(map(len, expected.values()))} versions, {len(got)} of {len(entries)} entries"
                                + (f"; refused {refused}" if refused else "") + ")")
            for _ in range(NOOP_PER_ROUND):
                rows["no-op sync, path"].append(_timed(lambda: sync(target, source)))
        print(f"{'row':<22} {'median s':>9} {'x anchor':>9}  rounds")
        anchor = statistics.median(rows["git fetch (anchor)"])
        for label, times in rows.items():
            if not times:
                print(f"{label:<22} {'-':>9} {'-':>9}  0")
                continue
            m = statistics.median(times)
            print(f"{label:<22} {m:>9.3f} {m / anchor:>9.2f}  {len(times)}")
        for p in problems:
            print(f"FAILED {p}")
        noop = statistics.median(rows["no-op sync, path"]) if rows["no-op sync, path"] else float("inf")
        met = noop <= NOOP_TARGET
        print(f"no-op sync: {noop:.3f} s, target <= {NOOP_TARGET} s: {'met' if met else 'MISSED'}")
        return 0 if met and not problems else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

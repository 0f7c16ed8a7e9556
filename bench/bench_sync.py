"""Sync benchmark (issue 13): 1,000 versions synced between two registries, and a no-op sync.

The source registry holds 10 APIs of 100 versions each, 100 of them yanked and 20 deprecated
(records on its log). Rows, each a median over fresh rounds, against the anchor measured in the
same run, ``git fetch`` of the same tags into an empty bare repository (git's own cost of moving
the objects, which a sync cannot beat):

1. ``sync`` of all 1,000 versions into an empty registry over a path (objects, create-only tags,
   the record log, the index, the blobs, the ``api/*`` branches);
2. the same over ``git://`` (a ``git daemon`` on loopback);
3. a no-op ``sync`` of that registry, over a path and over ``git://``. Target: <= 0.5 s.

Run: ``python bench/bench_sync.py [--rounds N]``; exits 1 if the target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

APIS, VERSIONS = 10, 100
NOOP_TARGET = 0.5


def _notebook(name: str, version: str) -> bytes:
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                     "source": f"def inc(x: float) -> float:\n    return x + {version.split('.')[-1]}"}],
          "metadata": {"gilgamesh": {"name": name, "version": version, "summary": "bench"}},
          "nbformat": 4, "nbformat_minor": 5}
    return (json.dumps(nb, indent=1) + "\n").encode()


def build_source(root: str) -> None:
    from gilgamesh.registry.store.git_store import Store, init_registry, writer_lock

    init_registry(root)
    store = Store(root)
    when = _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc).isoformat()
    with writer_lock(root):
        for a in range(APIS):
            name = f"api{a}"
            for v in range(VERSIONS):
                data = _notebook(name, f"1.{v}.0")
                store.write_version(data, {"name": name, "version": f"1.{v}.0", "sha256": hashlib.sha256(data).hexdigest(),
                                           "summary": "bench", "published_at": when, "publisher": "bench", "api": {}})
            for v in range(0, VERSIONS, 10):
                store.set_yanked(name, f"1.{v}.0", "bench yank", "bench")
            for v in (1, 2):
                store.set_deprecated(name, f"1.{v}.0", "bench deprecation", "bench")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def git_daemon(base: str):
    port = _free_port()
    proc = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={base}",
                             "--listen=127.0.0.1", f"--port={port}", base], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("git daemon did not start")
            time.sleep(0.05)
        yield f"git://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait()


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from gilgamesh.registry.store.git_store import init_registry
    from gilgamesh.registry.sync import sync

    work = tempfile.mkdtemp(prefix="bench-sync-")
    try:
        served = os.path.join(work, "served")
        source = os.path.join(served, "source")
        t0 = time.perf_counter()
        build_source(source)
        print(f"source: {APIS * VERSIONS} versions, {APIS * 12} records, built in {time.perf_counter() - t0:.1f} s")
        print(f"load average: {os.getloadavg()[0]:.2f} (2 cores shared)")
        rows: dict[str, list[float]] = {k: [] for k in ("git fetch (anchor)", "sync, path", "sync, git://",
                                                      "no-op sync, path", "no-op sync, git://")}
        with git_daemon(served) as base:
            url = f"{base}/source/store.git"
            for r in range(args.rounds):
                bare = os.path.join(work, f"bare-{r}")
                subprocess.run(["git", "init", "-q", "--bare", bare], check=True)
                rows["git fetch (anchor)"].append(_timed(lambda: subprocess.run(
                    ["git", "--git-dir", bare, "fetch", "-q", "--no-tags", os.path.join(source, "store.git"),
                     "refs/tags/*:refs/tags/*", "refs/records/*:refs/records/*"], check=True)))
                for label, src in (("sync, path", source), ("sync, git://", url)):
                    target = os.path.join(work, f"{label[6:10]}-{r}")
                    init_registry(target)
                    report = None

                    def run():
                        nonlocal report
                        report = sync(target, src)
                    rows[label].append(_timed(run))
                    assert sum(len(v) for v in report.adopted.values()) == APIS * VERSIONS and report.ok, report
                    noop = "no-op " + label
                    for _ in range(3):
                        rows[noop].append(_timed(lambda: sync(target, src)))
        print(f"{'row':<22} {'median s':>9} {'x anchor':>9}  rounds")
        anchor = statistics.median(rows["git fetch (anchor)"])
        for label, times in rows.items():
            m = statistics.median(times)
            print(f"{label:<22} {m:>9.3f} {m / anchor:>9.2f}  {len(times)}")
        worst = max(statistics.median(rows["no-op sync, path"]), statistics.median(rows["no-op sync, git://"]))
        ok = worst <= NOOP_TARGET
        print(f"no-op sync: {worst:.3f} s, target <= {NOOP_TARGET} s: {'met' if ok else 'MISSED'}")
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

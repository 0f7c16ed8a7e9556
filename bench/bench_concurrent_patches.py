"""Concurrent patches of one API (issue 24): N publishes of compatible PATCH versions at once.

A registry holds demo 1.0.0, published with validation (so it has golden calls). Then N ``gilgamesh
publish`` processes of 1.0.1 ... 1.0.N start together. Each validates while others land, so most find
a new predecessor under the writer lock and must replay its golden calls before they store. The
figures: how many landed, the wall time, and how many stored a replay of the predecessor they were
stored on (the target: all of them, none refused).

Run: ``python bench/bench_concurrent_patches.py [--publishes N]``; exits 1 if any publish was refused
or replayed another version than its predecessor.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def demo(version: str) -> bytes:
    def code(source, *tags):
        return {"cell_type": "code", "execution_count": 1, "metadata": {"tags": list(tags)}, "outputs": [], "source": source}

    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# demo\n\nScaling lengths."},
             {"cell_type": "markdown", "metadata": {}, "source": "Scale a length."},
             code("def scale(x: float, factor: float = 2.0) -> float:\n    return x * factor"),
             code("a = scale(1.5)\nb = scale(2.0, factor=3.0)", "example")]
    nb = {"nbformat": 4, "nbformat_minor": 5, "cells": [dict(c, id=f"c{i}") for i, c in enumerate(cells)],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                       "gilgamesh": {"name": "demo", "version": version, "summary": "bench"}}}
    return json.dumps(nb, indent=1).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--publishes", type=int, default=20)
    args = parser.parse_args()
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import Store, init_registry

    work = tempfile.mkdtemp(prefix="gilgamesh-bench-patches-")
    root = os.path.join(work, "registry")
    init_registry(root)
    publish(root, demo("1.0.0"), publisher="bench")
    paths = []
    for i in range(1, args.publishes + 1):
        path = os.path.join(work, f"1.0.{i}.ipynb")
        with open(path, "wb") as f:
            f.write(demo(f"1.0.{i}"))
        paths.append(path)
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "gilgamesh", "publish", p, "--registry", root],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in paths]
    results = [(p.wait(), p.stderr.read()) for p in procs]
    wall = time.monotonic() - started
    landed = sum(rc == 0 for rc, _ in results)
    store = Store(root)
    consistent = 0
    for i in range(1, args.publishes + 1):
        meta = store.read_metadata("demo", f"1.0.{i}") if store.existing_sha256("demo", f"1.0.{i}") else None
        if meta and meta["predecessor"] == (meta["validation"]["behaviour"].get("replayed") or {}).get("version"):
            consistent += 1
    print(f"{args.publishes} concurrent patch publishes: {landed} landed in {wall:.1f} s; "
          f"{consistent} replayed the golden calls of the predecessor they were stored on")
    for rc, err in results:
        if rc:
            print("refused:", err.strip().splitlines()[-1][:300])
    return 0 if landed == consistent == args.publishes else 1


if __name__ == "__main__":
    sys.exit(main())

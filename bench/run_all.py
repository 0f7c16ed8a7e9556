"""Run every benchmark in bench/ and print one table (``make bench``).

Each ``bench_*.py`` prints its own rows (medians, ratios against its anchor measured in the same
run) and exits non-zero when a target is missed; this collects them and prints a summary.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    scripts = sorted(glob.glob(os.path.join(HERE, "bench_*.py")))
    only = sys.argv[1:]
    summary = []
    for script in scripts:
        name = os.path.basename(script)[:-3]
        if only and not any(o in name for o in only):
            continue
        print(f"\n=== {name} ===", flush=True)
        t = time.perf_counter()
        rc = subprocess.call([sys.executable, script])
        summary.append((name, rc, time.perf_counter() - t))
    print("\n=== summary ===")
    for name, rc, seconds in summary:
        print(f"{name:<28} {'PASS' if rc == 0 else 'FAIL':<5} ({seconds:.0f} s)")
    return 0 if all(rc == 0 for _, rc, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())

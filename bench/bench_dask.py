"""Gilgamesh on a local Dask cluster (issue 15): batch scaling, HTTP model calls, per-task overhead.

Real ``dask scheduler`` and ``dask worker --preload gilgamesh.dask`` processes on loopback, one
registry in a temporary directory holding a small Langmuir-style model:

1. batch: ``client.map(pinned("sweep@1", "analyze"), traces)`` over N synthetic I-V sweeps (601
   points each, an exponential fit by least squares), on 1 and then on 2 workers of one thread:
   wall clock, and the scaling ratio t(1) / t(2) (2.0 would be perfect on this 2-core machine);
2. HTTP: the same burst of model calls (C concurrent clients) to the service with its local
   worker pool and with ``--dask-scheduler``, in the same run: throughput ratio and p99 latency;
3. per-task overhead: sequential calls of a trivial endpoint, Dask minus local pool, per call.

Run: ``python bench/bench_dask.py [--sweeps 10000] [--calls 400]``; medians of ``--rounds``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = os.path.dirname(sys.executable)
MODEL = '''import numpy as np


def analyze(V: list[float], I: list[float]) -> dict[str, float]:
    """Electron temperature [eV] from the exponential part of a probe sweep."""
    V, I = np.asarray(V), np.asarray(I)
    part = (I > 0) & (V < 0)
    slope, _ = np.polyfit(V[part], np.log(I[part]), 1)
    return {"T_e": float(1.0 / slope)}


def ping(x: float) -> float:
    """A trivial call: the overhead alone."""
    return x
'''


def _notebook() -> bytes:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
    from nbfactory import code, markdown, notebook, to_bytes

    return to_bytes(notebook("sweep", "1.0.0", [markdown("# Sweep analysis"), code(MODEL)], endpoints=["analyze", "ping"]))


def _traces(n: int, seed: int = 1):
    import numpy as np

    rng = np.random.default_rng(seed)
    V = np.linspace(-20, 0, 601)
    out = []
    for _ in range(n):
        T = rng.uniform(2, 8)
        out.append((V, 1e-3 * np.exp(V / T) * (1 + 0.01 * rng.standard_normal(V.size))))
    return out


def _start(argv, env, log):
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _stop(procs):
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def _post(url: str, body: dict) -> float:
    t = time.perf_counter()
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        r.read()
        assert r.status == 200
    return time.perf_counter() - t


def _serve(root, work, env, extra, label):
    log = open(os.path.join(work, f"serve-{label}.log"), "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gilgamesh", "serve", "--registry", root, "--port", "0",
                             "--model-workers", "2", *extra], stdout=subprocess.PIPE, stderr=log, env=env,
                            start_new_session=True, text=True)
    line = proc.stdout.readline()
    url = line.split(" at ")[1].split()[0].rstrip("/")
    return proc, url


def _burst(url: str, calls: int, clients: int, body: dict) -> tuple[float, float]:
    """(calls per second, p99 seconds) of ``calls`` posts from ``clients`` threads."""
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda _: _post(url, body), range(clients * 2)))  # warm
        t = time.perf_counter()
        latencies = list(pool.map(lambda _: _post(url, body), range(calls)))
        wall = time.perf_counter() - t
    latencies.sort()
    return calls / wall, latencies[int(0.99 * (len(latencies) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=int, default=10000)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from distributed import Client

    from gilgamesh.dask import pinned
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    work = tempfile.mkdtemp(prefix="gilgamesh-bench-dask-")
    root = os.path.join(work, "registry")
    init_registry(root)
    publish(root, _notebook(), publisher="bench", validate=False)
    env = dict(os.environ, GILGAMESH_REGISTRY=root, GILGAMESH_CACHE=os.path.join(work, "cache"),
               DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0")
    os.environ.update(GILGAMESH_REGISTRY=root, GILGAMESH_CACHE=env["GILGAMESH_CACHE"])
    procs = []
    log = open(os.path.join(work, "cluster.log"), "wb")
    try:
        sched_file = os.path.join(work, "scheduler.json")
        procs.append(_start([os.path.join(BIN, "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                             "--no-dashboard", "--scheduler-file", sched_file], env, log))
        while not os.path.exists(sched_file):
            time.sleep(0.05)
        address = json.load(open(sched_file))["address"]

        def worker(i):
            procs.append(_start([os.path.join(BIN, "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1",
                                 "--no-dashboard", "--name", f"w{i}", "--preload", "gilgamesh.dask",
                                 "--registry", root], env, log))

        traces = _traces(args.sweeps)
        analyze = pinned("sweep@1", "analyze")
        batch = {}
        with Client(address) as client:
            for n in (1, 2):
                worker(n)
                client.wait_for_workers(n, timeout=120)
                client.gather(client.map(analyze, *zip(*traces[:50]), pure=False))  # every worker warm
                times = []
                for _ in range(args.rounds):
                    t = time.perf_counter()
                    futures = client.map(analyze, [tr[0] for tr in traces], [tr[1] for tr in traces], pure=False)
                    results = client.gather(futures)
                    times.append(time.perf_counter() - t)
                    assert len(results) == len(traces) and all(1 < r["T_e"] < 12 for r in results)
                batch[n] = statistics.median(times)

        # HTTP: the service with its local pool, then with the cluster (2 workers), same burst.
        small = {"V": traces[0][0].tolist(), "I": traces[0][1].tolist()}
        rows = {}
        for label, extra in (("local pool", []), ("Dask (2 workers)", ["--dask-scheduler", address])):
            proc, url = _serve(root, work, env, extra, label.split()[0])
            try:
                rates, p99s, pings = [], [], []
                for _ in range(args.rounds):
                    rate, p99 = _burst(url + "/models/sweep/1/analyze", args.calls, args.clients, small)
                    rates.append(rate)
                    p99s.append(p99)
                    seq = [_post(url + "/models/sweep/1/ping", {"x": 1.0}) for _ in range(200)]
                    pings.append(statistics.median(seq))
                rows[label] = (statistics.median(rates), statistics.median(p99s), statistics.median(pings))
            finally:
                _stop([proc])
    finally:
        _stop(procs)

    print(f"Gilgamesh on a local Dask cluster; medians of {args.rounds} rounds")
    print(f"batch analyze of {args.sweeps} sweeps (pinned sweep@1.0.0):")
    for n, t in batch.items():
        print(f"  {n} worker{'s' if n > 1 else ' '}: {t:8.2f} s  {args.sweeps / t:8.0f} sweeps/s")
    print(f"  scaling 1 -> 2 workers: {batch[1] / batch[2]:.2f}x")
    print(f"HTTP analyze calls, {args.calls} calls from {args.clients} clients:")
    base = rows["local pool"]
    for label, (rate, p99, ping) in rows.items():
        print(f"  {label:<18} {rate:8.0f} calls/s  ({rate / base[0]:.2f}x)  p99 {p99 * 1000:7.1f} ms  "
              f"sequential ping {ping * 1000:6.2f} ms")
    print(f"per-call overhead of a Dask task (sequential ping, Dask minus local pool): "
          f"{(rows['Dask (2 workers)'][2] - base[2]) * 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

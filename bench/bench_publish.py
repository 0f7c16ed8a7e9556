"""Publishing with validation (issue 4) against ``pytest --nbval`` on the same notebook, same run.

The subject is one 20-cell API notebook (8 markdown, 12 code cells of which 5 are examples; numpy,
printed floats, a returned value per cell), executed once here so that its stored outputs are
what Jupyter would have saved.

Rows, each a fresh process, run interleaved round by round so that drift hits every row alike:

a. ``pytest --nbval -p no:importnb -p no:cacheprovider -q NB`` (the anchor, with the pytest plugins
   this environment installs: hypothesis, schemathesis, playwright, ...);
a'. the same with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 -p nbval.plugin``: pytest with nbval alone,
   the stricter anchor;
b. ``gilgamesh publish NB --registry R`` into a fresh registry (made beforehand, not timed), with
   pre-started kernels off (``GILGAMESH_PRESTART=0``): checks 1-7, the validation run in a kernel
   started for it included, then the git write; target: median (b) / median (a) <= 1.0, and
   against (a') too;
r. the same publish into a fresh registry for which the user's keeper has a kernel ready
   (``registry/validation/prestart.py``: the keeper started and the runner's kernel up
   beforehand, not timed): the validation takes the ready runner, which runs this one notebook
   and is killed while the keeper starts the next one (that start overlaps the row and is
   counted); target: median (r) / median (a') <= 0.5 (nbval as pytest's only plugin), the
   issue's figure. The row checks that it got a pre-started kernel that was ready;
c. ``gilgamesh publish NB`` again into a registry that already holds those bytes;
   target: <= 0.1 s;
c'. the same re-publish as a library call in a warm process (``publish(root, data)``; what the
   service does), for information;
d. ``gilgamesh publish --json`` of the same notebook as 1.0.1 into a registry that holds 1.0.0
   (copied beforehand, not timed): as (b), and 1.0.0's golden calls are replayed against it in its
   validation kernel (step 3b); target: median (d) / median (a) <= 1.0, and against (a') too. The
   golden calls' own cost (recording in the example cells, each call made again, the predecessor's
   replayed, the comparison) is read from the publish report, medians of the rounds;
e. ``gilgamesh validate NB`` then ``gilgamesh publish NB`` into a fresh registry whose keeper has
   a kernel ready (as r), the two commands timed together: the publish must be answered from the
   verdict cache (the notebook runs once); target: median (e) / median (a') <= 1.0.

Rows b, c and d run with pre-started kernels off, r and e with them on; between the rounds the
keeper is stopped (not timed), so that no ready kernel waits or starts while the other rows run.

Wall clock is the measure (the validation's point is to overlap the kernel's start with the
rest); the CPU time of the child processes is printed for information (in r and e the kernel runs
under the keeper, not as a child of the command: its CPU time is not counted there). Run:
``python bench/bench_publish.py [--rounds N]``; exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from gilgamesh.registry.publish.pipeline import publish
from gilgamesh.registry.store.git_store import init_registry

PYTHON = sys.executable
RATIO_TARGET = 1.0  # (b), (d): a kernel started for the publish, against (a) and (a')
READY_TARGET = 0.5  # (r): a publish with a ready kernel, against (a') (pytest with nbval alone)
VALIDATE_PUBLISH_TARGET = 1.0  # (e): validate then publish, together, against (a')
REPUBLISH_TARGET_S = 0.1


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text: str, *tags: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {"tags": list(tags)} if tags else {},
            "outputs": [], "source": text}


def subject_notebook() -> dict:
    """The 20-cell notebook, before execution."""
    cells = [
        _md("# Debye shielding\n\nThe Debye length $\\lambda_D = \\sqrt{\\varepsilon_0 k_B T_e / (n_e e^2)}$ "
            "and the number of particles in a Debye sphere."),
        _code("import math\n\nimport numpy as np\n\nE_CHARGE = 1.602176634e-19\nEPS0 = 8.8541878128e-12\nM_E = 9.1093837015e-31"),
        _md("## The Debye length\n\nFor a density in m$^{-3}$ and a temperature in eV."),
        _code("def debye_length(n_e: float, T_e: float) -> float:\n"
              "    \"\"\"Debye length in m.\"\"\"\n    return math.sqrt(EPS0 * T_e / (n_e * E_CHARGE))\n\n"
              "debye_length(1e18, 3.0)"),
        _md("The plasma parameter $N_D = \\frac{4}{3} \\pi n_e \\lambda_D^3$."),
        _code("def debye_number(n_e: float, T_e: float) -> float:\n"
              "    \"\"\"Particles in a Debye sphere.\"\"\"\n    return 4 / 3 * math.pi * n_e * debye_length(n_e, T_e) ** 3\n\n"
              "debye_number(1e18, 3.0)"),
        _md("The electron plasma frequency $\\omega_{pe} = \\sqrt{n_e e^2 / (\\varepsilon_0 m_e)}$."),
        _code("def plasma_frequency(n_e: float) -> float:\n"
              "    \"\"\"Electron plasma frequency in rad/s.\"\"\"\n    return math.sqrt(n_e * E_CHARGE ** 2 / (EPS0 * M_E))\n\n"
              "plasma_frequency(1e18)"),
        _md("A density scan, vectorised."),
        _code("def debye_lengths(n_e: np.ndarray, T_e: float) -> np.ndarray:\n"
              "    \"\"\"Debye lengths for an array of densities.\"\"\"\n    return np.sqrt(EPS0 * T_e / (n_e * E_CHARGE))\n\n"
              "densities = np.logspace(16, 20, 5)\nprint(debye_lengths(densities, 3.0))"),
        _code("print(f'{debye_length(1e17, 5.0):.6e} m')\nprint(f'{debye_number(1e17, 5.0):.6e}')"),
        _md("## Examples"),
        _code("for T in (1.0, 2.0, 5.0, 10.0):\n    print(T, debye_length(1e18, T))", "example"),
        _code("ratio = debye_length(1e18, 10.0) / debye_length(1e18, 1.0)\nratio", "example"),
        _code("table = {n: debye_number(n, 3.0) for n in (1e16, 1e18, 1e20)}\ntable", "example"),
        _md("The frequency grows as $\\sqrt{n_e}$."),
        _code("f = [plasma_frequency(n) / (2 * math.pi) for n in densities]\nprint([f'{x:.3e}' for x in f])", "example"),
        _code("np.round(np.diff(np.log10(debye_lengths(densities, 3.0))), 6)", "example"),
        _md("That is all."),
        _code("summary = {'lambda_D': debye_length(1e18, 3.0), 'N_D': debye_number(1e18, 3.0)}\nsummary"),
    ]
    assert len(cells) == 20
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "gilgamesh": {"name": "debye", "version": "1.0.0", "summary": "Debye shielding."},
        },
        "cells": [dict(c, id=f"cell-{i}") for i, c in enumerate(cells)],
    }


def executed_notebook(directory: str) -> bytes:
    """Run the subject once (nbclient) so that its stored outputs are real; return its bytes."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.from_dict(subject_notebook())
    saved = os.dup(2)  # the kernel inherits stderr; keep its start-up chatter out of the table
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": directory}}).execute()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()


def successor(data: bytes, version: str) -> bytes:
    """The same executed notebook under another version: a PATCH with unchanged behaviour."""
    nb = json.loads(data)
    nb["metadata"]["gilgamesh"]["version"] = version
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()


def _run(argvs: list[list[str]], cwd: str, env: dict) -> tuple[float, float, list]:
    """(wall, CPU of the children seconds, the finished processes) of fresh processes run one
    after the other; each must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = [subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True) for argv in argvs]
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    for argv, d in zip(argvs, done):
        if d.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({d.returncode}):\n{d.stdout[-2000:]}\n{d.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done


def _ready_kernel(root: str) -> None:
    """Have the keeper (started if need be) hold a ready kernel for publishing into ``root``."""
    from gilgamesh.registry.store.settings import read_settings
    from gilgamesh.registry.validation import prestart

    if prestart.prepare(root, read_settings(root), wait=300) is None:
        raise SystemExit(f"no kernel became ready for {root}: {prestart.status()}")


def _stop_keeper() -> None:
    from gilgamesh.registry.validation import prestart

    state = prestart.stop()
    until = time.monotonic() + 30
    while state is not None and time.monotonic() < until and prestart.status() is not None:
        time.sleep(0.05)


def _prestarted(done: subprocess.CompletedProcess) -> bool:
    """Whether the command ran its notebook in a pre-started kernel that was ready when taken."""
    return "ran in a pre-started kernel" in done.stderr and "ready when taken" in done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="gilgamesh-bench-publish-")
    try:
        nb_path = os.path.join(work, "debye.ipynb")
        data = executed_notebook(work)
        with open(nb_path, "wb") as f:
            f.write(data)
        # The keeper of this run's pre-started kernels: its own, stopped between the rounds.
        # (This process's own publishes below start none: GILGAMESH_PRESTART=0 but for r and e.)
        os.environ["GILGAMESH_RUNTIME_DIR"] = os.path.join(work, "rt")
        os.environ["GILGAMESH_PRESTART"] = "0"
        env = dict(os.environ)
        env.pop("GILGAMESH_TOKEN", None)
        env["GILGAMESH_CACHE"] = os.path.join(work, "cache")
        ready_env = {**env, "GILGAMESH_PRESTART": "verbose"}
        warm_root = os.path.join(work, "warm-registry")
        init_registry(warm_root)
        publish(warm_root, data, publisher="bench")  # (c) re-publishes into this one
        patch_path = os.path.join(work, "debye-1.0.1.ipynb")
        with open(patch_path, "wb") as f:
            f.write(successor(data, "1.0.1"))
        base_root = os.path.join(work, "base-registry")  # holds 1.0.0 and its golden calls; (d) copies it
        init_registry(base_root)
        base = publish(base_root, data, publisher="bench").to_dict()["behaviour"]
        golden_calls = sum(base["recorded"].values())

        lean_env = {**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        gilgamesh = [PYTHON, "-m", "gilgamesh"]
        rows = {
            "a": lambda i: [[PYTHON, "-m", "pytest", "--nbval", "-p", "no:importnb", "-p", "no:cacheprovider",
                             "-q", "--rootdir", work, nb_path]],
            "lean": lambda i: [[PYTHON, "-m", "pytest", "-p", "nbval.plugin", "--nbval", "-p", "no:cacheprovider",
                                "-q", "--rootdir", work, nb_path]],
            "b": lambda i: [gilgamesh + ["publish", nb_path, "--registry", os.path.join(work, f"fresh-{i}")]],
            "r": lambda i: [gilgamesh + ["publish", nb_path, "--registry", os.path.join(work, f"ready-{i}")]],
            "c": lambda i: [gilgamesh + ["publish", nb_path, "--registry", warm_root]],
            "d": lambda i: [gilgamesh + ["publish", "--json", patch_path, "--registry", os.path.join(work, f"patch-{i}")]],
            "e": lambda i: [gilgamesh + ["validate", nb_path, "--registry", os.path.join(work, f"twice-{i}")],
                            gilgamesh + ["publish", "--json", nb_path, "--registry", os.path.join(work, f"twice-{i}")]],
        }
        envs = {"lean": lean_env, "r": ready_env, "e": ready_env}
        walls = {k: [] for k in rows}
        cpus = {k: [] for k in rows}
        replay_costs: dict[str, list[float]] = {}
        for i in range(args.rounds + 1):  # round 0 warms the page cache and is dropped
            for made in ("fresh", "ready", "twice"):
                init_registry(os.path.join(work, f"{made}-{i}"))
            shutil.copytree(base_root, os.path.join(work, f"patch-{i}"), symlinks=True)
            for key, argv in rows.items():
                if key in ("r", "e"):  # not timed: the keeper and its kernel, ready for this registry
                    _ready_kernel(os.path.join(work, f"{'ready' if key == 'r' else 'twice'}-{i}"))
                try:
                    wall, cpu, done = _run(argv(i), work, envs.get(key, env))
                finally:
                    if key in ("r", "e"):
                        _stop_keeper()
                stdout = done[-1].stdout
                if key in ("r", "e") and not _prestarted(done[0]):
                    raise SystemExit(f"({key}) did not run in a ready pre-started kernel:\n{done[0].stderr[-2000:]}")
                if key == "e" and not json.loads(stdout)["results"][0]["validation"]["cached"]:
                    raise SystemExit("(e): publish after validate ran the notebook again")
                if key == "d":
                    behaviour = json.loads(stdout)["results"][0]["behaviour"]
                    if behaviour.get("replayed", {}).get("calls") != golden_calls or behaviour.get("differences"):
                        raise SystemExit(f"(d) did not replay 1.0.0's {golden_calls} golden calls cleanly: {behaviour}")
                    if i:
                        for part, seconds in behaviour["seconds"].items():
                            replay_costs.setdefault(part, []).append(seconds)
                if i:
                    walls[key].append(wall)
                    cpus[key].append(cpu)
            for made in ("fresh", "ready", "twice", "patch"):
                shutil.rmtree(os.path.join(work, f"{made}-{i}"))
        in_process = []
        for _ in range(50):
            t = time.perf_counter()
            out = publish(warm_root, data, publisher="bench")
            in_process.append(time.perf_counter() - t)
            assert not out.created
    finally:
        _stop_keeper()
        shutil.rmtree(work, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in walls.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    ratio = med["b"] / med["a"]
    ratio_lean = med["b"] / med["lean"]
    warm = statistics.median(in_process)
    ratio_d, ratio_d_lean = med["d"] / med["a"], med["d"] / med["lean"]
    ratio_r, ratio_e = med["r"] / med["lean"], med["e"] / med["lean"]
    ok_ratio = max(ratio, ratio_lean, ratio_d, ratio_d_lean) <= RATIO_TARGET
    ok_ready = ratio_r <= READY_TARGET
    ok_twice = ratio_e <= VALIDATE_PUBLISH_TARGET
    ok_repub = med["c"] <= REPUBLISH_TARGET_S
    print(f"publishing a 20-cell notebook with validation; {args.rounds} rounds, medians")
    print(f"{'row':<58} {'wall s':>8} {'cpu s':>8} {'vs (a)':>7}")
    print(f"{'(a) pytest --nbval (anchor)':<58} {med['a']:>8.3f} {cpu['a']:>8.3f} {1.0:>7.2f}")
    lean_label = "(a') pytest --nbval, no other plugin (stricter anchor)"
    print(f"{lean_label:<58} {med['lean']:>8.3f} {cpu['lean']:>8.3f} {med['lean'] / med['a']:>7.2f}")
    print(f"{'(b) gilgamesh publish, fresh registry, validation included':<58} {med['b']:>8.3f} {cpu['b']:>8.3f} {ratio:>7.2f}"
          f"   target <= {RATIO_TARGET:.1f}x of (a) and of (a'): {ratio:.2f}x, {ratio_lean:.2f}x "
          f"{'PASS' if max(ratio, ratio_lean) <= RATIO_TARGET else 'FAIL'}")
    print(f"{'(r) gilgamesh publish, fresh registry, a kernel ready':<58} {med['r']:>8.3f} {cpu['r']:>8.3f} "
          f"{med['r'] / med['a']:>7.2f}   target <= {READY_TARGET:.1f}x of (a'): {ratio_r:.2f}x "
          f"{'PASS' if ok_ready else 'FAIL'}")
    print(f"{'(c) gilgamesh publish, identical content again':<58} {med['c']:>8.3f} {cpu['c']:>8.3f} {med['c'] / med['a']:>7.2f}"
          f"   target <= {REPUBLISH_TARGET_S} s: {'PASS' if ok_repub else 'FAIL'}")
    print(f"{'(c) publish() identical content again, in process':<58} {warm:>8.4f} {'':>8} {warm / med['a']:>7.3f}")
    print(f"{'(d) gilgamesh publish 1.0.1, 1.0.0 golden calls replayed':<58} {med['d']:>8.3f} {cpu['d']:>8.3f} {ratio_d:>7.2f}"
          f"   target <= {RATIO_TARGET:.1f}x of (a) and of (a'): {ratio_d:.2f}x, {ratio_d_lean:.2f}x "
          f"{'PASS' if max(ratio_d, ratio_d_lean) <= RATIO_TARGET else 'FAIL'}")
    print(f"{'(e) gilgamesh validate, then publish (the notebook runs once)':<58} {med['e']:>8.3f} {cpu['e']:>8.3f} "
          f"{med['e'] / med['a']:>7.2f}   target <= {VALIDATE_PUBLISH_TARGET:.1f}x of (a'): {ratio_e:.2f}x "
          f"{'PASS' if ok_twice else 'FAIL'}")
    cost = {part: statistics.median(v) for part, v in replay_costs.items()}
    parts = ", ".join(f"{part} {seconds * 1000:.2f} ms" for part, seconds in cost.items())
    print(f"    golden calls' own cost in (d), 1.0.0's {golden_calls} replayed: "
          f"{sum(cost.values()) * 1000:.2f} ms ({parts}); {sum(cost.values()) / med['d'] * 100:.2f} % of (d)")
    print(f"    (r) / (b), the ready kernel's share: {med['r'] / med['b']:.2f}x")
    return 0 if ok_ratio and ok_ready and ok_twice and ok_repub else 1


if __name__ == "__main__":
    sys.exit(main())

"""Step 7 of publishing: the notebook runs top to bottom in a fresh kernel and its outputs match.

:func:`validate_notebook` is what the publish pipeline calls. It answers from the validation
cache when the same notebook bytes already validated against the same dependencies; otherwise it
runs :mod:`gilgamesh.registry.validation.runner` in a subprocess and turns the runner's report into
publish problems (``Problem("validation", message, cell=N)``).

The subprocess gets:

* its own session (process group) and a scratch directory that is removed afterwards: the
  kernel's working directory, a private ``IPYTHONDIR`` whose profile loads the Gilgamesh IPython
  extension (so the ``@`` spelling works), a private ``GILGAMESH_CACHE``, and
  ``GILGAMESH_REGISTRY`` set to the registry being published to; no ``GILGAMESH_TOKEN``;
* the registry's limits (``settings.json``): ``validation_timeout`` seconds of wall clock for the
  whole run, counted once the kernel answers (``validation_startup_timeout``, default 120 s, limits
  its start: a loaded machine must not fail a notebook), ``validation_memory_mb`` of address
  space for the kernel;
* the sandbox of :mod:`gilgamesh.registry.sandbox.launch` (no network, an unprivileged uid, a minimal
  read-only file system with the scratch directory as a size-limited tmpfs, an allow-listed
  environment, limits on processes, file size, memory and CPU time); the runner and its kernel
  share it, talking over unix sockets. ``settings.json`` ``sandbox`` (default true) can turn it
  off, ``require_sandbox`` refuses to run the notebook where bwrap is missing, and the record
  stored with each version says whether it was on;
* a backstop: if the runner itself overruns the limit by :data:`GRACE_SECONDS`, its whole process
  tree is killed here; if it dies without reporting, every process still carrying the run's
  marker (``GILGAMESH_VALIDATION_RUN`` in its environment) is killed. Either way the report names
  the cell the runner said it was running.

The runner is pre-started where it can be (:mod:`gilgamesh.registry.validation.prestart`): a keeper
process keeps one runner ready per environment, its kernel started and connected, and hands it
to the next validation or ``gilgamesh run``, which sends the notebook over its stdin; the runner
runs that one job and ends, and the keeper starts the next. The run is the same (a fresh kernel,
the same scratch directory, sandbox, limits and report); ``GILGAMESH_PRESTART=0`` turns it off,
and a keeper that cannot be reached or has no runner to hand leaves the run to the launch here.

The cache lives in ``<root>/validation-cache/<key>.json``; the key is the sha256 of the notebook's
sha256 together with the exact version and sha256 of every API it imports, transitively (the
versions recorded with each dependency, which is what the loader runs), the sha256 of the golden
calls it replays (:mod:`gilgamesh.registry.compat.replay`), the environment the run would have
(:func:`gilgamesh.registry.validation.fingerprint.environment_key`: the interpreter, the installed
distributions, the settings, the variables the kernel sees) and :data:`VALIDATOR_VERSION`. Only
passes are cached: a failure may come from a limit, and is cheap to reproduce.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Callable, NamedTuple

from gilgamesh.config import is_url
from gilgamesh.errors import GilgameshError, Problem
from gilgamesh.files import atomic_write
from gilgamesh.notebook import ParsedNotebook, parse_notebook
from gilgamesh.spelling import find_api_references, rewrite_at_spelling
from gilgamesh.versions import spec_from_module_part

from gilgamesh.registry.compare.tolerance import DEFAULT_TOLERANCE, tolerance_of
from gilgamesh.registry.sandbox.launch import Limits, SandboxRequired, sandboxed, use_sandbox
from gilgamesh.registry.validation.fingerprint import VALIDATOR_VERSION
from gilgamesh.registry.validation.reports import ended_early, parse_report, timed_out

__all__ = [
    "validate_notebook",
    "validation_key",
    "dependency_closure",
    "run_notebook",
    "cache_dir",
    "DEFAULT_TOLERANCE",
    "VALIDATOR_VERSION",
    "GRACE_SECONDS",
    "RUN_HINT",
    "never_run",
    "Prepared",
    "prepare_runner",
    "run_environment_key",
]

DEFAULT_STARTUP_TIMEOUT = 120.0  # seconds for the kernel to answer; not part of validation_timeout
GRACE_SECONDS = 5.0  # the runner's own clock ends the run; this is for a runner that hangs itself
CACHE_DIRNAME = "validation-cache"
# The command that re-runs a notebook and saves its outputs; the CLI puts the real path in.
RUN_HINT = "gilgamesh run NOTEBOOK.ipynb"
MARKER_VARIABLE = "GILGAMESH_VALIDATION_RUN"  # names the run in the environment of all its processes

_IPYTHON_CONFIG = """\
# Written by gilgamesh validation: a fresh profile for one validation run.
c.InteractiveShellApp.extensions = ["gilgamesh"]
c.HistoryManager.enabled = False
"""


def cache_dir(root: str) -> str:
    """Where validation passes are remembered for the registry at ``root``."""
    return os.path.join(root, CACHE_DIRNAME)


def dependency_closure(reader, dependencies: dict[str, str]) -> dict[str, str]:
    """``{"name@version": sha256}`` of the dependencies and, transitively, theirs.

    A published dependency runs its own recorded dependencies (the loader pins them), so the
    closure follows the recorded versions, as an import of the notebook will.
    """
    closure: dict[str, str] = {}
    todo = list(dependencies.items())
    while todo:
        name, version = todo.pop()
        label = f"{name}@{version}"
        if label in closure:
            continue
        try:
            entry = reader.entry(name, version)
        except GilgameshError:
            closure[label] = "unavailable"
            continue
        closure[label] = entry["sha256"]
        todo.extend((entry.get("dependencies") or {}).items())
    return closure


def validation_key(data: bytes, reader, dependencies: dict[str, str], replayed: str | None = None,
                   environment: str | None = None) -> str:
    """The cache key of one validation: notebook bytes, dependency closure, the golden calls
    replayed (their sha256), the environment's key (:func:`run_environment_key`), validator version."""
    payload = {
        "validator": VALIDATOR_VERSION,
        "notebook": hashlib.sha256(data).hexdigest(),
        "dependencies": dependency_closure(reader, dependencies),
    }
    if replayed is not None:
        payload["replayed"] = replayed
    if environment is not None:
        payload["environment"] = environment
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def run_environment_key(root: str, settings: dict, sandbox: bool | None = None) -> str:
    """The key of the environment a run of this process would have against ``root``, as a
    verdict is keyed (see :mod:`gilgamesh.registry.validation.fingerprint`: the registry's
    identity left out); ``sandbox`` as :func:`use_sandbox` says, ``None`` where it refuses (bwrap
    is required and missing)."""
    from gilgamesh.registry.validation.fingerprint import environment_key, runner_environment

    return environment_key(root, settings, sandbox, runner_environment(os.environ), registry=False)[0]


def _read_cached(root: str, key: str) -> dict | None:
    try:
        with open(os.path.join(cache_dir(root), key + ".json"), "rb") as f:
            record = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("passed") is True else None


def _write_cached(root: str, key: str, record: dict) -> None:
    directory = cache_dir(root)
    try:
        os.makedirs(directory, exist_ok=True)
        atomic_write(os.path.join(directory, key + ".json"), json.dumps(record, sort_keys=True).encode(), durable=False)
    except OSError:
        pass  # a registry we may not write to still validates; it only cannot remember


def never_run(nb: ParsedNotebook) -> int:
    """The number of code cells if none of them was ever run (no outputs, no execution count), else 0."""
    # The parsed cells (sources read leniently): the schema may not have been checked yet.
    cells = [nb.raw["cells"][c.number - 1] for c in nb.cells if c.kind == "code" and c.source.strip()]
    if any(c.get("execution_count") is not None or c.get("outputs") for c in cells):
        return 0
    return len(cells)


def validate_notebook(
    data: bytes,
    nb: ParsedNotebook,
    root: str,
    settings: dict,
    dependencies: dict[str, str],
    facts: dict | None = None,
    behaviour: dict | None = None,
    check_schema: bool = False,
) -> tuple[dict | None, list[Problem]]:
    """Run and compare the notebook (or recall an earlier pass); return (record, problems).

    The record is stored with the version: ``{"passed", "seconds", "cells", "compared",
    "tolerance", "cached", "environment"}``; ``environment`` is the Python and the distributions
    the notebook imported (:mod:`gilgamesh.environment`). With ``facts``
    (:func:`gilgamesh.registry.surface.snapshot.static_facts`) the kernel also describes the module after
    the last cell: the record then carries ``"surface"`` (the live description), which the caller
    takes out before storing it. With ``behaviour`` (:func:`gilgamesh.registry.compat.replay.behaviour_job`)
    the kernel records the example cells' golden calls and replays the predecessor's: the record
    carries ``"golden"`` (taken out too) and ``"behaviour"`` (what was recorded and what differed).
    With ``check_schema`` the runner checks the nbformat 4 schema before it runs anything, and a
    record from a run carries ``"schema": {"problem"}`` (for the caller to take out, and not
    remembered); a recalled pass or a refusal before any run does not.
    """
    from gilgamesh.registry.store.reader import LocalReader

    unrun = never_run(nb)
    if unrun:
        return None, [Problem(
            "validation",
            f"the notebook was never run: none of its {unrun} code cells has stored outputs or an execution "
            "count, so there is nothing to validate its results against (and its documentation would show "
            f"none); run it and save its outputs with `{RUN_HINT}`, then publish again",
        )]
    root = os.path.abspath(root)
    tolerance = tolerance_of(nb.metadata)
    replayed = ((behaviour or {}).get("replay") or {}).get("sha256")
    try:
        sandbox = use_sandbox(settings)
    except SandboxRequired:
        sandbox = None  # run_notebook refuses below
    key = validation_key(data, LocalReader(root), dependencies, replayed, run_environment_key(root, settings, sandbox))
    cached = _read_cached(root, key)
    if cached is not None:
        cached.pop("key", None)
        return {**cached, "cached": True}, []
    try:
        report = run_notebook(data, root, settings, tolerance, facts, behaviour=behaviour, check_schema=check_schema)
    except SandboxRequired as e:
        return None, [Problem("validation", f"the notebook was not run: {e}")]
    problems = [Problem("validation", p["message"], cell=p.get("cell")) for p in report["problems"]]
    schema = report.get("schema")
    record = {
        "passed": not problems and not (schema or {}).get("problem"),
        "sandboxed": report.get("sandboxed", False),
        "seconds": report.get("seconds"),
        "cells": report.get("cells", 0),
        "compared": report.get("compared", 0),
        "tolerance": tolerance,
        "cached": False,
        "environment": report.get("environment"),
    }
    for found in ("surface", "golden", "behaviour", "schema"):
        if report.get(found) is not None:
            record[found] = report[found]
    if record["passed"]:
        _write_cached(root, key, {**{k: v for k, v in record.items() if k != "schema"}, "key": key})
    return record, problems


def _scratch_env(root: str, scratch: str, base: dict[str, str]) -> dict[str, str]:
    """``base`` (a :func:`~gilgamesh.registry.validation.fingerprint.runner_environment`: no token,
    the notebook has no business publishing; no matplotlib backend, figures display as in Jupyter)
    with the run's scratch paths and registry."""
    env = dict(base)
    env.update({
        "TMPDIR": os.path.join(scratch, "tmp"),  # the only writable place inside the sandbox
        # matplotlib warns on stderr (an output mismatch) when its config dir is read-only;
        # a fresh one costs ~0.2 s of font scanning on the first import of matplotlib.
        "MPLCONFIGDIR": os.path.join(scratch, "matplotlib"),
        "GILGAMESH_REGISTRY": root,
        "GILGAMESH_CACHE": os.path.join(scratch, "cache"),
        "IPYTHONDIR": os.path.join(scratch, "ipython"),
        "JUPYTER_RUNTIME_DIR": os.path.join(scratch, "runtime"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    return env


class Prepared(NamedTuple):
    """A runner ready to be started: its scratch directory, command line, environment and job."""

    scratch: str
    argv: list
    env: dict
    job: dict  # what the runner reads from its file: for a pre-started runner, all but the notebook's part
    sandboxed: bool

    @property
    def marker(self) -> str:
        return self.env[MARKER_VARIABLE]


def prepare_runner(root: str, settings: dict, sandbox: bool, base_env: dict[str, str], *,
                   notebook: tuple[bytes, Callable[[str], dict]] | None = None, workdir: str | None = None,
                   python: str | None = None) -> Prepared:
    """Make the scratch directory of one run and the runner's command line (the module docstring).

    ``notebook``: ``(bytes, part)``, the notebook and its part of the job (tolerance, probe, save,
    check_schema: ``part(probe_out)``, given where the probe writes), written into the scratch for
    a runner started for it; without it the runner is pre-started (``--prestart``) and gets them on
    its stdin (:mod:`gilgamesh.registry.validation.prestart`). ``base_env``: the environment it starts
    from (:func:`~gilgamesh.registry.validation.fingerprint.runner_environment`); ``python``: the
    interpreter of the runner and its kernel (default this one's). The caller removes the scratch
    directory when the run is over.
    """
    timeout = float(settings.get("validation_timeout") or 300)
    startup = float(settings.get("validation_startup_timeout") or DEFAULT_STARTUP_TIMEOUT)
    scratch = tempfile.mkdtemp(prefix="gilgamesh-validate-")
    try:
        for sub in ("work", "runtime", "cache", "tmp", "matplotlib", os.path.join("ipython", "profile_default")):
            os.makedirs(os.path.join(scratch, sub))
        with open(os.path.join(scratch, "ipython", "profile_default", "ipython_kernel_config.py"), "w") as f:
            f.write(_IPYTHON_CONFIG)
        job = {
            "workdir": workdir or os.path.join(scratch, "work"),
            "runtime_dir": os.path.join(scratch, "runtime"),
            "log": os.path.join(scratch, "kernel.log"),
            "timeout": timeout,
            "startup_timeout": startup,
            "memory_mb": int(settings.get("validation_memory_mb") or 0),
            "python": python or sys.executable,
            "progress": os.path.join(scratch, "progress"),
            "probe_out": os.path.join(scratch, "work", ".gilgamesh-probe.json"),
            "limits": {k: v for k, v in settings.items() if k.startswith("sandbox_")} if sandbox else {},
        }
        open(job["progress"], "w").close()  # the one file the run writes back to the host
        if notebook is not None:
            data, part = notebook
            job["notebook"] = os.path.join(scratch, "notebook.ipynb")
            with open(job["notebook"], "wb") as f:
                f.write(data)
            job.update(part(job["probe_out"]))
        job_file = os.path.join(scratch, "job.json")
        with open(job_file, "w") as f:
            json.dump(job, f)
        argv = [python or sys.executable, "-m", "gilgamesh.registry.validation.runner",
                *(() if notebook is not None else ("--prestart",)), job_file]
        env = {**_scratch_env(root, scratch, base_env), MARKER_VARIABLE: os.path.basename(scratch)}
        if sandbox:
            # A registry over HTTP (gilgamesh run against a service) is reached over the network:
            # the author's own notebook on the author's machine. A workdir (run --here) is the
            # author's directory, written as the author.
            argv = sandboxed(argv, registry_root=root if os.path.isdir(root) else None, scratch=scratch, env=env,
                             limits=Limits.from_settings(settings), outputs=(job["progress"],),
                             writable=(workdir,) if workdir else (), cwd=job["workdir"], network=is_url(root))
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return Prepared(scratch, argv, env, job, sandbox)


def notebook_part(tolerance: float, facts: dict | None, behaviour: dict | None, save: bool, check_schema: bool,
                  probe_out: str) -> dict:
    """The notebook's part of a runner's job (the rest is :func:`prepare_runner`'s)."""
    part = {"tolerance": tolerance, "save": save, "check_schema": check_schema}
    if facts is not None:
        part["probe"] = {"facts": facts, "out": probe_out}
        if behaviour is not None:
            part["probe"]["behaviour"] = behaviour
    return part


def run_notebook(data: bytes, root: str, settings: dict, tolerance: float = DEFAULT_TOLERANCE,
                 facts: dict | None = None, *, save: bool = False, workdir: str | None = None,
                 behaviour: dict | None = None, check_schema: bool = False) -> dict:
    """Run the notebook in a fresh, limited kernel; return the runner's report.

    ``{"problems": [{"message", "cell"}], "cells", "compared", "seconds"}``; the scratch
    directory and every process of the run are gone when this returns. ``save`` (``gilgamesh
    run``): compare nothing, let the runner print its progress on this process's stderr, and
    return the executed notebook as ``"notebook"``. ``workdir``: the kernel's working directory,
    writable in the sandbox, instead of the scratch directory's own (never pre-started: it is
    bound into the sandbox when the runner starts).
    """
    from gilgamesh.registry.validation.fingerprint import runner_environment

    sandbox = use_sandbox(settings)  # before anything is written: it may refuse

    def part(probe_out: str) -> dict:
        return notebook_part(tolerance, facts, behaviour, save, check_schema, probe_out)

    if workdir is None:
        from gilgamesh.registry.validation import prestart

        report = prestart.run_prestarted(data, part, root, settings, sandbox, GRACE_SECONDS)
        if report is not None:
            report["sandboxed"] = sandbox
            return report
    # The direct launch: this process starts the runner for this notebook.
    prepared = prepare_runner(root, settings, sandbox, runner_environment(os.environ), workdir=workdir,
                              notebook=(data, part))
    try:
        report = _run_runner(prepared.argv, prepared.job, prepared.env, prepared.scratch,
                             stderr=None if save else subprocess.PIPE)
        report["sandboxed"] = sandbox
        return report
    finally:
        shutil.rmtree(prepared.scratch, ignore_errors=True)


def _run_runner(argv: list[str], job: dict, env: dict, scratch: str, stderr=subprocess.PIPE) -> dict:
    from gilgamesh.registry.sandbox.process_tree import kill_marked, kill_tree

    marker = env[MARKER_VARIABLE]  # every process of this run inherits it in its environment
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
        cwd=scratch, env=env, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=job["startup_timeout"] + job["timeout"] + GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        proc.communicate()
        kill_marked(MARKER_VARIABLE, marker)
        return timed_out(job)
    finally:
        if proc.poll() is None:  # interrupted here (KeyboardInterrupt, ...): leave nothing behind
            kill_tree(proc.pid)
            proc.wait()
            kill_marked(MARKER_VARIABLE, marker)
    report = parse_report(out)
    if report is not None:
        return report
    # The runner died without reporting (killed by the notebook, say): its orphans went to init.
    kill_marked(MARKER_VARIABLE, marker)
    return ended_early(proc.returncode, argv[0] != sys.executable, err, job)

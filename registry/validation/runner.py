"""The validation runner: one notebook, top to bottom, in a fresh kernel, compared as nbval does.

Run as ``python -m gilgamesh.registry.validation.runner JOB.json`` by
:mod:`gilgamesh.registry.validation.launch`, which gives it its own session, environment and scratch
directory, and kills its whole tree if it overruns. This process:

* becomes a child subreaper, so every process the notebook starts stays in its tree;
* starts an IPython kernel whose address space is limited (``RLIMIT_AS``) before it imports
  anything, in the scratch working directory, talking over unix sockets where the path allows;
* runs every code cell (``example`` cells included) through nbclient, under one wall-clock budget
  for the whole run, skipping what nbval skips and allowing the errors nbval allows;
* stops at the first cell that raises, times out, exits or kills the kernel; compares the outputs
  of every cell run so far with the stored ones (:mod:`gilgamesh.registry.compare.outputs`);
* kills the kernel's process group, then whatever the notebook left running outside it, and
  names the cell that started it;
* asks the kernel, before the first cell and after the last, which modules it holds, and reports
  the Python and the distributions the notebook imported (:mod:`gilgamesh.environment`);
* prints one JSON object on stdout: ``{"problems": [{"message", "cell"}], "cells": n,
  "compared": n, "seconds": s, "environment": {"python", "packages"}}``; with ``"check_schema"`` in
  the job also ``"schema": {"problem": message or None}``, the nbformat 4 schema checked before
  anything runs (nothing runs when it fails).

With ``"save": true`` in the job (``gilgamesh run``, :mod:`gilgamesh.registry.validation.authoring`) it runs
the same way but compares nothing: it prints each cell's progress on its stderr and hands the
executed notebook back in the report (``"notebook"``), outputs up to the cell that failed.

**Pre-started** (``python -m gilgamesh.registry.validation.runner --prestart BASE.json``, launched
by the keeper of :mod:`gilgamesh.registry.validation.prestart`): the file holds only what is known
before the notebook (the scratch paths, the limits); the runner starts its kernel, connects to it,
writes one byte on stdout (a newline: the kernel is ready; a space: it did not start) and waits for
its single job on stdin: one JSON object, the notebook's bytes in ``"notebook_b64"``. Then it runs
as above and exits. The wall-clock budget counts from the job's arrival. A kernel that did not start, or died while it waited, runs
nothing: the report is ``{"stale": reason}`` and the caller runs the notebook in a runner of its own.

The kernel's own stdout and stderr go to a log file in the scratch directory, never to the
runner's stdout, so nothing the notebook prints can pass for the runner's report.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time

from gilgamesh.registry.validation.launch import RUN_HINT

__all__ = ["run_job", "main", "KERNEL_BOOTSTRAP"]

# The kernel's command line: limit the address space first, then start ipykernel as
# ``python -m ipykernel_launcher`` would (without the script directory on sys.path).
KERNEL_BOOTSTRAP = (
    "import resource, sys\n"
    "limit = int(sys.argv.pop(1))\n"
    "hard = resource.getrlimit(resource.RLIMIT_AS)[1]\n"
    "if limit > 0 and hard != resource.RLIM_INFINITY:\n"
    "    limit = min(limit, hard)\n"  # under the sandbox's own limit, which it cannot raise
    "if limit > 0:\n"
    "    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
    "if sys.path and sys.path[0] == '':\n"
    "    del sys.path[0]\n"
    "from ipykernel.kernelapp import launch_new_instance\n"
    "launch_new_instance()\n"
)
# What to do about a stored output that no longer matches.
STALE_HINT = ("the stored output is not what the notebook computes now: if the new output is right, "
              f"re-run the notebook with `{RUN_HINT}` and save it; if not, fix the code")
_JOB_READ = False  # a pre-started runner has read its job (from then on it reports as any runner)
_SAID = False  # a pre-started runner has written its first byte
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ARROW = re.compile(r"^\s*-+>\s*(\d+)\s(.*)$")  # IPython's marker of the failing line in a cell


def _problem(message: str, cell: int | None = None) -> dict:
    return {"message": message, "cell": cell}


def _error_summary(output) -> str:
    """``ZeroDivisionError: division by zero`` plus the last traceback line inside the cell."""
    ename, evalue = output.get("ename", "Error"), output.get("evalue", "")
    text = f"{ename}: {evalue}" if evalue else ename
    frames = [_ANSI.sub("", line) for line in output.get("traceback", [])]
    for frame in frames:
        for line in frame.splitlines():
            m = _ARROW.match(line)
            if m:
                return f"{text} (line {m.group(1)}: {m.group(2).strip()})"
    return text


def _kernel_spec_manager(argv: list[str]):
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class _OneKernel(KernelSpecManager):
        """Serves exactly one kernel spec: the limited validation kernel."""

        def get_kernel_spec(self, kernel_name):
            return KernelSpec(argv=argv, display_name="Gilgamesh validation", language="python")

    return _OneKernel()


# The sandbox's limits as a notebook meets them: (ename, words in the message, the setting, unit).
_LIMITS = (
    ("BlockingIOError", "Resource temporarily unavailable", "sandbox_processes", "processes and threads"),
    ("OSError", "No space left on device", "sandbox_scratch_mb", "MB of scratch space"),
    ("OSError", "File too large", "sandbox_file_mb", "MB a file"),
)


def _limit_hint(job: dict, error) -> str:
    """`` (the ... limit is N: setting)`` when the error is a limit of the run, else ``""``."""
    ename, evalue = error.get("ename", ""), error.get("evalue", "")
    if ename.endswith("MemoryError"):
        return f" (the validation memory limit is {job.get('memory_mb')} MB: validation_memory_mb)"
    limits = job.get("limits") or {}
    for name, words, setting, unit in _LIMITS:
        if (ename == name or ename == "OSError") and words in evalue and limits.get(setting):
            return f" (the sandbox allows {limits[setting]} {unit}: {setting} in the registry's settings.json)"
    return ""


def _log_tail(path: str, lines: int = 6) -> str:
    try:
        with open(path, errors="replace") as f:
            text = f.read()[-4000:]
    except OSError:
        return ""
    keep = [line for line in text.splitlines() if line.strip() and "WARNING | Kernel is running over" not in line]
    return "\n".join(keep[-lines:])


async def run_job(job: dict, read_job=None) -> dict:
    """Run the notebook of ``job`` (see the module docstring) and return the report.

    ``read_job`` (pre-started): an async callable that waits for the rest of the job once the
    kernel is ready (or could not start), and returns it (None: no job will come).
    """
    from gilgamesh.registry.sandbox.process_tree import become_subreaper

    started = time.monotonic()
    line_open = False  # a progress line waits for its cell's outcome
    # The wall-clock budget counts from the moment the kernel answers: on a loaded machine its
    # start alone may take long, and that has its own, generous limit.
    startup = float(job.get("startup_timeout") or 120)
    deadline = started + startup
    become_subreaper()

    from jupyter_client.manager import AsyncKernelManager

    memory = int(job.get("memory_mb") or 0) * 1024 * 1024
    argv = [job.get("python") or sys.executable, "-c", KERNEL_BOOTSTRAP, str(memory), "-f", "{connection_file}"]
    # Unix sockets in the scratch directory (no ports to race for) unless the path is too long
    # for a socket address (about 107 bytes); then loopback TCP.
    ipc_base = os.path.join(job["runtime_dir"], "k")
    transport = {"transport": "ipc", "ip": ipc_base} if len(ipc_base.encode()) <= 96 else {"transport": "tcp"}
    km = AsyncKernelManager(
        kernel_name="gilgamesh-validation",
        kernel_spec_manager=_kernel_spec_manager(argv),
        connection_file=os.path.join(job["runtime_dir"], "kernel.json"),
        **transport,
    )
    problems: list[dict] = []
    started_by: dict[int, int] = {}  # pid -> number of the cell after which it was first seen
    log = open(job["log"], "ab")
    ran = compared = 0
    environment = None
    kernel_pgid = last_cell = None
    kernel_command: list[str] = []
    report_extra: dict = {}  # what the kernel probe found: the live surface
    try:
        # Start the kernel first; everything below until the client connects overlaps its boot.
        await km.start_kernel(cwd=job["workdir"], stdout=log, stderr=log)
        kernel_pid = km.provisioner.process.pid
        kernel_pgid = os.getpgid(kernel_pid)
        kernel_command = list(km.provisioner.process.args)

        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        from gilgamesh.registry.compare.outputs import cell_options, compare_outputs  # nbval's code (without pytest)
        from gilgamesh.registry.compare.sanitize import read_sanitizers

        kc = None
        if read_job is not None:
            # Pre-started: connect now, say so, then wait for the job; its clock starts when it comes.
            try:
                kc = await _connect(km, deadline)
            except (asyncio.TimeoutError, RuntimeError) as e:
                failed = f"the pre-started kernel did not start: {_startup_problem(job, startup, e)['message']}"
                _say_started(b" ")
            else:
                failed = None
                _warm_up()
                _say_started(b"\n")  # ready
            rest = await read_job()
            if rest is None:
                return {"stale": "no job came"}
            if failed is None and not await km.is_alive():
                failed = "the pre-started kernel died while it waited for its job"
            if failed is not None:
                return {"stale": failed}
            job.update(rest)
            started = time.monotonic()
        saving = bool(job.get("save"))  # `gilgamesh run`: execute and hand the outputs back, compare nothing
        text = job["notebook_bytes"] if "notebook_bytes" in job else _read_bytes(job["notebook"])
        text = text.decode("utf-8")
        if job.get("check_schema"):
            # The publishing process left the schema to this process, which has nbformat loaded.
            from gilgamesh.registry.validation.schema import schema_problem

            report_extra["schema"] = {"problem": schema_problem(json.loads(text))}
            if report_extra["schema"]["problem"]:
                return {**_report(problems, ran, compared, started), **report_extra}
        nb = nbformat.reads(text, as_version=4)
        replies: dict[int, dict] = {}

        def remember_reply(cell, cell_index, execute_reply):
            replies[cell_index] = execute_reply or {}

        client = NotebookClient(
            nb,
            km=km,
            allow_errors=True,  # which errors are allowed is nbval's decision, made below
            record_timing=False,
            skip_cells_with_tag="nbval-skip",
            interrupt_on_timeout=False,
            startup_timeout=max(1, int(startup + 0.999)),
            on_cell_executed=remember_reply,
        )
        references = {i: (c.get("execution_count"), list(c.get("outputs", [])))
                      for i, c in enumerate(nb.cells) if c.cell_type == "code"}
        tolerance = float(job["tolerance"])
        # A bad entry is the static checks' to report; the good ones still apply.
        meta = nb.metadata.get("gilgamesh")
        sanitizers, _ = read_sanitizers(meta.get("sanitize") if isinstance(meta, dict) else None)
        to_run = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
        if kc is None:
            try:
                kc = await _connect(km, deadline)
            except (asyncio.TimeoutError, RuntimeError) as e:
                problems.append(_startup_problem(job, startup, e))
                return _report(problems, ran, compared, started)
        client.kc = kc
        deadline = time.monotonic() + float(job["timeout"])

        from gilgamesh.registry.compat.record import install_code
        from gilgamesh.registry.compat.verdict import compare_calls

        # One silent round trip before the first cell: the modules already loaded, the call recorder.
        await _silently(client.kc, "get_ipython().gilgamesh_modules_before = frozenset(__import__('sys').modules)"
                        + install_code(job.get("probe")), deadline)
        for index, cell in enumerate(nb.cells):
            number = index + 1
            if cell.cell_type != "code":
                continue
            options = cell_options(cell)
            if not cell.source.strip():
                continue
            if options["skip"]:
                if saving:
                    _say(f"{_cell_label(cell, number, to_run, index)} skipped (nbval skip marker)\n")
                continue
            last_cell = number
            _note_progress(job, number)
            if saving:
                _say(f"{_cell_label(cell, number, to_run, index)} ... ")
                cell_started, line_open = time.monotonic(), True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                problems.append(_timeout_problem(job, number))
                break
            client.timeout = max(1, int(remaining + 0.999))
            try:
                await asyncio.wait_for(client.async_execute_cell(cell, index), remaining + 1)
            except (CellTimeoutError, asyncio.TimeoutError):
                problems.append(_timeout_problem(job, number))
                break
            except DeadKernelError:
                problems.append(_death_problem(km, job, number))
                break
            finally:
                _note_new_processes(started_by, number)
            ran += 1
            errors = [o for o in cell.outputs if o.get("output_type") == "error"]
            if saving:
                failed = errors and not options["check_exception"]
                _say(f"{'failed' if failed else 'ok'} ({time.monotonic() - cell_started:.1f} s)\n")
                line_open = False
            if errors and not options["check_exception"]:
                summary = _error_summary(errors[0])
                hint = _limit_hint(job, errors[0])
                problems.append(_problem(f"the cell raised {summary}{hint}", number))
                break
            execution_count, reference = references[index]
            if saving:
                pass  # the new outputs replace the stored ones
            elif execution_count is None and reference:
                problems.append(_problem("the stored cell has outputs but no execution count (nbval: "
                                         "'Unrun reference cell has outputs'); re-run the notebook and save it", number))
            elif options["check"] and execution_count is not None:
                compared += 1
                mismatch = compare_outputs(reference, cell.outputs, tolerance, sanitizers)
                if mismatch is not None:
                    problems.append(_problem(f"{mismatch.describe()}; {STALE_HINT}", number))
            payloads = replies.get(index, {}).get("content", {}).get("payload", [])
            if any(p.get("source") == "ask_exit" for p in payloads):
                problems.append(_problem("the cell asked the kernel to exit (exit() or quit()); "
                                         "the rest of the notebook cannot run", number))
                break
            if not await km.is_alive():
                problems.append(_death_problem(km, job, number))
                break
        else:
            if not saving:
                environment = await _environment(client.kc, deadline)
        if saving:
            if line_open:  # the cell timed out or its kernel died
                _say("failed\n")
            report_extra["notebook"] = nb
        if not problems and job.get("probe"):
            report_extra.update(await _probe(client, job["probe"], deadline))
            compare_calls(report_extra, job["probe"], tolerance)  # golden calls kept, replayed ones compared
    finally:
        await _stop_kernel(km)
        if kernel_pgid is not None:
            problems += _end_leftovers(kernel_pgid, kernel_command, started_by, last_cell)
        log.close()
    return {**_report(problems, ran, compared, started, environment), **report_extra}


def _say_started(byte: bytes) -> None:
    """A pre-started runner's first byte on stdout, once: a newline when its kernel is ready, a
    space when it is not (whitespace, which a JSON reader of the report skips)."""
    global _SAID
    if not _SAID:
        _SAID = True
        os.write(sys.stdout.fileno(), byte)


_WARM_UP = {
    "nbformat": 4, "nbformat_minor": 5, "metadata": {},
    "cells": [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": "#"},
              {"cell_type": "code", "id": "c", "metadata": {}, "execution_count": 1, "source": "1", "outputs": [
                  {"output_type": "stream", "name": "stdout", "text": "1"},
                  {"output_type": "execute_result", "execution_count": 1, "data": {"text/plain": "1"}, "metadata": {}},
                  {"output_type": "display_data", "data": {"text/plain": "1"}, "metadata": {}},
                  {"output_type": "error", "ename": "E", "evalue": "", "traceback": []}]}],
}


def _warm_up() -> None:
    """Before its job, a pre-started runner reads and checks a tiny notebook once: nbformat builds
    its schema validator on first use (about 50 ms). The runner's own modules only; nothing of
    the kernel's."""
    import nbformat

    from gilgamesh.registry.validation.schema import schema_problem

    try:
        schema_problem(json.loads(json.dumps(_WARM_UP)))
        nbformat.reads(json.dumps(_WARM_UP), as_version=4)
    except Exception:  # noqa: BLE001 - only a head start; the job reads its own notebook
        pass


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


async def _connect(km, deadline: float):
    """A client of the kernel that answered, within the start limit (as nbclient connects one)."""
    import inspect

    kc = km.client()
    try:
        started = kc.start_channels()
        if inspect.isawaitable(started):
            await started
        remaining = max(0.1, deadline - time.monotonic())
        await asyncio.wait_for(kc.wait_for_ready(timeout=remaining + 1), remaining)
    except BaseException:
        kc.stop_channels()
        raise
    kc.allow_stdin = False
    return kc


async def _read_stdin_job() -> dict | None:
    """The pre-started runner's job: one JSON object on stdin, up to its end; None if none came."""
    import base64

    global _JOB_READ
    data = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)
    _JOB_READ = True
    try:
        rest = json.loads(data)
    except ValueError:
        return None
    if not isinstance(rest, dict) or "notebook_b64" not in rest:
        return None
    return rest | {"notebook_bytes": base64.b64decode(rest.pop("notebook_b64"))}


async def _probe(client, probe: dict, deadline: float) -> dict:
    """Ask the kernel, after the last cell, for the module's live surface (one silent round trip)."""
    job_path = probe["out"] + ".job"
    with open(job_path, "w", encoding="utf-8") as f:
        json.dump(probe, f)
    code = f"__import__('gilgamesh.registry.validation.kernel_probe', fromlist=['run']).run(get_ipython(), {job_path!r})"
    try:
        reply = await client.kc.execute_interactive(code, silent=True, store_history=False,
                                                    timeout=max(1.0, deadline - time.monotonic()),
                                                    output_hook=lambda msg: None)
        with open(probe["out"], encoding="utf-8") as f:
            found = json.load(f)
    except Exception as e:  # noqa: BLE001 - without it publish reads the surface another way
        return {"probe_error": f"{type(e).__name__}: {e}"}
    if reply.get("content", {}).get("status") != "ok":
        return {"probe_error": reply.get("content", {}).get("evalue", "the probe failed")}
    return found


_CAPTURE = ("__import__('json').dumps(__import__('gilgamesh.environment', fromlist=['_'])"
            ".capture_environment(getattr(get_ipython(), 'gilgamesh_modules_before', frozenset())))")


async def _silently(kc, code: str, deadline: float, user_expressions: dict | None = None) -> dict:
    """Run ``code`` in the kernel without history, outputs or an execution count; {} on failure."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return {}
    try:
        reply = await kc.execute_interactive(code, silent=True, store_history=False, user_expressions=user_expressions,
                                             timeout=min(remaining, 60.0), output_hook=lambda msg: None)
    except Exception:  # noqa: BLE001 - a kernel that cannot answer records no environment
        return {}
    return reply.get("content", {}) if isinstance(reply, dict) else {}


async def _environment(kc, deadline: float) -> dict | None:
    """The Python and the distributions the notebook imported, as the kernel reports them."""
    import ast

    content = await _silently(kc, "", deadline, {"environment": _CAPTURE})
    value = content.get("user_expressions", {}).get("environment", {})
    try:
        environment = json.loads(ast.literal_eval(value["data"]["text/plain"]))
    except (KeyError, TypeError, ValueError, SyntaxError):
        return None
    return environment if isinstance(environment, dict) else None


def _cell_label(cell, number: int, to_run: list[int], index: int) -> str:
    """``[2/5] cell 3: def twice(x):``, for the progress of ``gilgamesh run``."""
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    first = first if len(first) <= 60 else first[:57] + "..."
    return f"[{to_run.index(index) + 1}/{len(to_run)}] cell {number}: {first}"


def _say(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def _note_progress(job: dict, cell: int) -> None:
    """Tell the parent which cell runs now, for when this process does not live to report."""
    path = job.get("progress")
    if path:
        with open(path, "w") as f:
            f.write(str(cell))


def _report(problems: list[dict], ran: int, compared: int, started: float, environment: dict | None = None) -> dict:
    return {"problems": problems, "cells": ran, "compared": compared,
            "seconds": round(time.monotonic() - started, 3), "environment": environment}


def _startup_problem(job: dict, startup: float, error: BaseException) -> dict:
    """The kernel never answered: say which limit it ran into, or why it stopped."""
    reason = str(error).strip()
    if isinstance(error, asyncio.TimeoutError) or not reason:
        message = (f"the kernel did not start within the kernel start limit of {startup:g} s "
                   "(validation_startup_timeout in the registry's settings.json)")
    else:
        message = f"the kernel did not start: {reason}"
    if job.get("memory_mb"):
        message += f"; the kernel's memory limit is {job['memory_mb']} MB (validation_memory_mb), too low a limit stops it starting"
    tail = _log_tail(job["log"])
    return _problem(message + (f"; its log ends with:\n{tail}" if tail else ""))


def _timeout_problem(job: dict, cell: int) -> dict:
    return _problem(
        f"the notebook did not finish within the validation time limit of {float(job['timeout']):g} s "
        "(validation_timeout); this cell was still running", cell,
    )


def _death_problem(km, job: dict, cell: int) -> dict:
    process = getattr(km.provisioner, "process", None) if km.provisioner else None
    code = process.poll() if process is not None else None
    if code is not None and code < 0:
        try:
            how = f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
        cpu = (job.get("limits") or {}).get("sandbox_cpu_seconds")
        if -code == signal.SIGXCPU and cpu:
            how += f": it used up the CPU time limit of {cpu} s (sandbox_cpu_seconds)"
    elif code is not None:
        how = f"exit status {code}"
    else:
        how = "it stopped answering"
    tail = _log_tail(job["log"], lines=3)
    return _problem(f"the kernel died while running this cell ({how})" + (f"; its log ends with:\n{tail}" if tail else ""), cell)


async def _stop_kernel(km) -> None:
    """Kill the kernel's whole process group now: nothing of the notebook needs to finish."""
    process = getattr(km.provisioner, "process", None) if km.provisioner else None
    if process is not None and process.poll() is None:
        # As shutdown_kernel(now=True) does (SIGKILL to the group), but waited for here: it
        # polls the dead kernel every 0.1 s.
        try:
            group = os.getpgid(process.pid)
            if group == os.getpgrp():
                raise ProcessLookupError  # not a group of its own: never signal this runner's
            os.killpg(group, signal.SIGKILL)
        except OSError:
            process.kill()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    try:
        if km.has_kernel:
            await km.shutdown_kernel(now=True)
    except Exception:  # noqa: BLE001 - the process tree is killed regardless below
        pass
    try:
        await km.cleanup_resources()
    except Exception:  # noqa: BLE001
        pass


def _note_new_processes(started_by: dict[int, int], cell: int) -> None:
    """Remember which cell each of our descendants first appeared after (about 1 ms a cell)."""
    import psutil

    try:
        for p in psutil.Process().children(recursive=True):
            started_by.setdefault(p.pid, cell)
    except psutil.Error:
        pass


def _end_leftovers(kernel_pgid: int, kernel_command: list[str], started_by: dict[int, int], last_cell: int | None) -> list[dict]:
    """Kill what the notebook left running outside the kernel's process group; name its cell.

    A process first seen after cell N was started by cell N; one never seen was started by the
    cell that was running when the run stopped.
    """
    import psutil

    from gilgamesh.registry.sandbox.process_tree import kill_processes, living_descendants

    me = os.getpid()
    found = []
    for p in living_descendants(me):
        try:
            if os.getpgid(p.pid) == kernel_pgid:
                continue  # killed with the kernel's group, on its way out
            command = p.cmdline()
            if command == kernel_command:
                described = "a fork of the kernel"
            else:
                described = " ".join(command).replace("\n", " ")[:120] or p.name()
            found.append((p, described))
        except (psutil.NoSuchProcess, ProcessLookupError):
            continue
    if not found:
        return []
    kill_processes([p for p, _ in found])
    problems = []
    for p, command in found:
        cell = started_by.get(p.pid, last_cell)
        problems.append(_problem(
            f"a process started by the notebook was still running after the kernel ended "
            f"(pid {p.pid}: {command}); it was killed. A notebook must not leave processes behind",
            cell,
        ))
    return problems


def main(argv: list[str] | None = None) -> None:
    """Entry point: ``python -m gilgamesh.registry.validation.runner [--prestart] JOB.json``; writes
    the report, exits."""
    from gilgamesh.jsonschema_formats import skip_iri_format_checker

    skip_iri_format_checker()  # before nbclient and nbformat: 1.3 s less where JupyterLab is installed
    argv = sys.argv[1:] if argv is None else argv
    prestart = argv[0] == "--prestart"
    with open(argv[-1], encoding="utf-8") as f:
        job = json.load(f)
    try:
        report = asyncio.run(run_job(job, _read_stdin_job if prestart else None))
    except Exception as e:  # noqa: BLE001 - before its job, a pre-started runner only says it is of no use
        if not prestart or _JOB_READ:
            raise
        report = {"stale": f"the pre-started runner failed: {type(e).__name__}: {e}"}
        _say_started(b" ")
    out = json.dumps(report).encode()
    view = memoryview(out)
    while view:
        view = view[os.write(sys.stdout.fileno(), view):]
    # Every process of the run is gone and the report is out: skip the interpreter's teardown
    # (zmq contexts, asyncio, atexit hooks), which only costs time.
    os._exit(0)


if __name__ == "__main__":
    main()

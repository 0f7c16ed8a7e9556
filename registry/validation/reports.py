"""What a validation run that could not report itself reports: the runner's own report read
from its stdout, or a failure naming the cell it was running (its progress file).

Shared by the direct launch (:mod:`gilgamesh.registry.validation.launch`) and the pre-started
runner's caller (:mod:`gilgamesh.registry.validation.prestart`).
"""

from __future__ import annotations

import json

__all__ = ["parse_report", "timed_out", "ended_early", "progress_cell", "failed"]

_READ = object()  # the cell: read from the progress file


def parse_report(out: bytes) -> dict | None:
    """The runner's report from its stdout, or None when it printed none."""
    try:
        report = json.loads(out)
    except ValueError:
        return None
    if isinstance(report, dict) and (isinstance(report.get("problems"), list) or "stale" in report):
        return report
    return None


def timed_out(job: dict, cell=_READ) -> dict:
    """The report of a run killed by the backstop (``GRACE_SECONDS`` past its limits)."""
    return failed(
        f"the notebook did not finish within the validation time limit of {job['timeout']:g} s "
        "(validation_timeout), and the validation run was killed", job, cell,
    )


def ended_early(code: int | None, sandboxed_argv: bool, err: bytes | None, job: dict, cell=_READ) -> dict:
    """The report of a runner that ended without reporting: its exit status and stderr's tail."""
    if sandboxed_argv and code and code > 128:
        code = 128 - code  # bwrap reports its child's death by signal N as exit status 128 + N
    how = f" (killed by signal {-code})" if code and code < 0 else (f" (exit status {code})" if code else "")
    tail = (err or b"").decode(errors="replace").strip().splitlines()[-8:]
    return failed(f"the validation run ended before it could report{how}" + (":\n" + "\n".join(tail) if tail else ""),
                  job, cell)


def progress_cell(job: dict) -> int | None:
    """The cell the runner said it was running (its progress file), if any."""
    try:
        with open(job["progress"]) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def failed(message: str, job: dict, cell=_READ) -> dict:
    """A report for a run that could not report itself, naming the cell it was running (``cell``,
    read from its progress file unless given)."""
    if cell is _READ:
        cell = progress_cell(job)
    if cell is not None:
        message += "; this cell was running"
    return {"problems": [{"message": message, "cell": cell}], "cells": 0, "compared": 0, "seconds": None}

"""``gilgamesh run NB...``: the author's "run all and save", executed the way validation runs it.

A notebook runs through the validation runner itself (:func:`gilgamesh.registry.validation.launch.run_notebook`
with ``save=True``): a fresh kernel with the Gilgamesh extension loaded, ``@`` imports resolved
from the registry, the same scratch directory, limits and sandbox. So what ``run`` saves is what
``validate`` will find, and a notebook that runs here validates (unless it depends on the state of
a kernel that Jupyter kept). ``here=True`` runs the kernel in the notebook's own directory (which
it may then also write) instead of the empty scratch one, for notebooks that read files beside
them.

The executed notebook replaces the file atomically, with its permissions kept: outputs up to the
cell that failed (its traceback included); cells after it keep what they had, as in Jupyter. A
file changed by someone else while it ran is left alone.
"""

from __future__ import annotations

import os
import stat
from typing import NamedTuple

from gilgamesh.config import is_url
from gilgamesh.errors import GilgameshError, UsageError
from gilgamesh.files import atomic_write

__all__ = ["RunResult", "run_and_save", "read_runnable"]


class RunResult(NamedTuple):
    path: str
    saved: bool  # the outputs were written to the file
    cells: int  # code cells run
    seconds: float | None
    failure: str | None  # what went wrong, naming the cell; None when every cell ran
    cell: int | None  # the failing cell's number (1-based, markdown cells counted)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_dict(self) -> dict:
        return {"path": self.path, "ok": self.ok, "saved": self.saved, "cells": self.cells,
                "seconds": self.seconds, "error": self.failure, "cell": self.cell}


def read_runnable(path: str) -> tuple[bytes, object]:
    """The notebook's bytes and its nbformat 4 node; a clear error if it is missing or no notebook."""
    import nbformat

    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory; give the notebook files to run (e.g. {os.path.join(path, '*.ipynb')})")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except Exception as e:  # noqa: BLE001 - JSON, UTF-8, schema: all say the same to the author
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GilgameshError(f"{path} is not a Jupyter notebook (nbformat 4) that can be run: {reason}") from None
    return data, nb


def _first_line(nb, cell: int | None) -> str:
    try:
        source = nb.cells[cell - 1].source
    except (TypeError, IndexError, AttributeError):
        return ""
    line = next((s.strip() for s in source.splitlines() if s.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def _describe(nb, problem: dict) -> str:
    """``cell 4 ("z = 1 / 0") raised ZeroDivisionError: ...``: the runner's message, naming the cell."""
    message, cell = problem["message"], problem.get("cell")
    if cell is None:
        return message
    where = f"cell {cell} ({_first_line(nb, cell)!r})"
    if message.startswith("the cell "):
        return f"{where} {message[len('the cell '):]}"
    return f"{where}: {message}"


def _write_atomically(path: str, data: bytes) -> None:
    """Replace ``path`` by ``data`` so that a reader sees the old file or the new one; mode kept."""
    target = os.path.realpath(path)  # a symlinked notebook stays a symlink
    atomic_write(target, data, stat.S_IMODE(os.stat(target).st_mode))


def run_and_save(path: str, location: str, here: bool = False) -> RunResult:
    """Run the notebook at ``path`` against the registry at ``location``; save its outputs in place."""
    import nbformat

    from gilgamesh.registry.store.settings import default_settings, read_settings
    from gilgamesh.registry.validation.launch import run_notebook

    data, nb = read_runnable(path)
    settings = default_settings() if is_url(location) else read_settings(location)
    workdir = os.path.dirname(os.path.abspath(path)) if here else None
    report = run_notebook(data, location, settings, save=True, workdir=workdir)
    executed = report.get("notebook")
    problems = report.get("problems") or []
    failure = "; ".join(_describe(nb, p) for p in problems) or None
    cell = next((p.get("cell") for p in problems if p.get("cell") is not None), None)
    saved = False
    if executed is not None:
        new = nbformat.from_dict(executed)
        text = nbformat.writes(new)  # validates: what is saved is a notebook Jupyter opens
        try:
            with open(path, "rb") as f:
                unchanged = f.read() == data
        except OSError:
            unchanged = False
        if not unchanged:
            note = f"{path} changed while it ran; its new outputs were not saved (run it again)"
            return RunResult(path, False, report.get("cells", 0), report.get("seconds"),
                             f"{failure}; {note}" if failure else note, cell)
        try:
            _write_atomically(path, (text if text.endswith("\n") else text + "\n").encode("utf-8"))
        except OSError as e:
            raise GilgameshError(f"cannot save the outputs to {path}: {e.strerror or e}") from None
        saved = True
    return RunResult(path, saved, report.get("cells", 0), report.get("seconds"), failure, cell)

"""What the validation kernel reports after the notebook's last cell: the module's live surface.

The validation runner executes one silent line in the kernel after the notebook ran::

    __import__("gilgamesh.registry.validation.kernel_probe", fromlist=["run"]).run(get_ipython(), JOB)

which describes the user namespace (:func:`gilgamesh.registry.surface.live.describe`), collects
the golden calls recorded from the example cells and replays the predecessor's
(:func:`gilgamesh.registry.compat.record.collect`, when the job has ``behaviour``), and writes the
JSON to the path the job names. Nothing is bound in the notebook's namespace and nothing is
printed, so the notebook's outputs are untouched; it costs one round trip to the kernel.
"""

from __future__ import annotations

import json

__all__ = ["run"]


def run(shell, job_path: str) -> None:
    from gilgamesh.registry.surface.live import describe

    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    out: dict = {}
    try:
        out["surface"] = describe(shell.user_ns, job["facts"])
    except Exception as e:  # noqa: BLE001 - the runner falls back to the static surface
        out["surface_error"] = f"{type(e).__name__}: {e}"
    if job.get("behaviour"):
        from gilgamesh.registry.compat.record import collect

        try:
            out.update(collect(shell, job["behaviour"]))
        except Exception as e:  # noqa: BLE001 - the runner reports that the calls were not recorded
            out["behaviour_error"] = f"{type(e).__name__}: {e}"
    with open(job["out"], "w", encoding="utf-8") as f:
        json.dump(out, f)

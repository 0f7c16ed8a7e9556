"""schemathesis against ``/openapi.json`` with every check it has: the document is as strict as the server.

``st run --checks all --mode all``, schemathesis's command line as a user runs it, calls every
operation of the document in each of its phases (coverage, fuzzing, stateful; examples when the
document has some) with valid and invalid requests, deterministically. Every answer goes through
every check, none excluded: no 5xx; documented statuses, content types, headers and bodies; invalid
requests refused and valid ones accepted (``positive_data_acceptance``: a pattern, a required field
or a media type looser than the server fails it); a method the document does not list answers 405
with ``Allow``; authentication that is declared is enforced.

It runs twice against a service seeded with ``corpus.SEED_APIS``: without a token, and with a token
allowed to publish, which publishes, yanks and deprecates (so each run has a registry of its own).
What no JSON Schema can say is told to schemathesis next to this file: ``schemathesis.toml`` (the
422s the document declares for content only running it can judge) and ``schemathesis_hooks.py``
(a numpy array's rows have one length). The service runs without notebook validation (step 7, tested
where publishing is): a generated notebook costs a kernel otherwise, and the HTTP answers are the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests
from reliability_kit import Service, seed_registry

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, "schemathesis.toml")
HOOKS = os.path.join(HERE, "schemathesis_hooks.py")
MAX_EXAMPLES = 25  # per operation in fuzzing and stateful: a run stays under a minute
SLOWEST = 15  # seconds an answer may take (max_response_time, the one check that needs a figure)
TARGET_CALLS = 1000
PHASES = ("coverage", "fuzzing", "stateful")


@pytest.fixture(params=[False, True], ids=["without-token", "write-token"])
def target(request, tmp_path):
    """``(service, token or None)``: a seeded registry of its own, served."""
    root = str(tmp_path / "registry")
    token = seed_registry(root)
    service = Service(root, str(tmp_path / "service.log"), env={"GILGAMESH_CACHE": str(tmp_path / "cache")},
                      options={"validate": False})
    try:
        yield service, token if request.param else None
    finally:
        service.stop()


def _report(path: str) -> tuple[dict[str, str], int, dict[int, int]]:
    """``(phase: status, calls, {status code: calls})`` of an NDJSON report."""
    phases, calls, statuses = {}, 0, {}
    with open(path) as f:
        for line in f:
            kind, event = next(iter(json.loads(line).items()))
            if kind == "PhaseFinished":
                phases[event["phase"]["name"]] = event["status"]
            elif kind == "ScenarioFinished":
                for interaction in (event["recorder"].get("interactions") or {}).values():
                    if interaction.get("response"):
                        calls += 1
                        code = interaction["response"]["status_code"]
                        statuses[code] = statuses.get(code, 0) + 1
    return phases, calls, dict(sorted(statuses.items()))


def test_every_check_passes(target, tmp_path, figures):
    service, token = target
    report = str(tmp_path / "schemathesis.ndjson")
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", CONFIG, "run", service.url + "/openapi.json",
               "--checks", "all", "--mode", "all", "--generation-deterministic",
               "--max-examples", str(MAX_EXAMPLES), "--max-response-time", str(SLOWEST), "--request-timeout", "60",
               "--workers", "1", "--no-color",
               "--report", "ndjson", "--report-ndjson-path", report]
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
    started = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, cwd=str(tmp_path), timeout=600,
                         env={**os.environ, "SCHEMATHESIS_HOOKS": HOOKS})
    seconds = time.monotonic() - started
    assert run.returncode == 0, run.stdout[-30000:] + run.stderr[-5000:]

    phases, calls, statuses = _report(report)
    assert {phase: phases.get(phase) for phase in PHASES} == dict.fromkeys(PHASES, "success"), phases
    assert calls >= TARGET_CALLS, (calls, statuses)
    assert not any(code >= 500 for code in statuses), statuses
    assert service.alive() and requests.get(service.url + "/healthz", timeout=30).status_code == 200
    assert "Traceback" not in service.log(), service.log()[-5000:]
    variant = "with a write token" if token else "without a token"
    figures(f"schemathesis calls ({variant}, every check, positive + negative)", calls)
    figures(f"schemathesis statuses ({variant})", statuses)
    figures(f"schemathesis seconds ({variant})", round(seconds, 1))

"""Where JupyterLab shares the environment, Gilgamesh's own processes import nbformat without
building jsonschema's IRI grammar (rfc3987_syntax: 1.3 s of CPU per process)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

PROBE = """
import sys, time
{setup}
started = time.process_time()
import nbformat, nbclient
state = sys.modules.get("rfc3987_syntax", "absent")
print("blocked" if state is None else "absent" if state == "absent" else "loaded", time.process_time() - started)
"""


def probe(setup: str) -> tuple[str, float]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup)], capture_output=True, text=True,
                         check=True).stdout.splitlines()[-1].split()  # the last line: after any --help
    return out[0], float(out[1])


@pytest.mark.skipif(importlib.util.find_spec("rfc3987_syntax") is None, reason="jsonschema's IRI checker is not installed")
def test_the_command_line_and_the_runner_skip_the_iri_grammar():
    assert probe("")[0] == "loaded"  # left alone, nbformat's import loads it
    cli = "from gilgamesh.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    runner = ("import gilgamesh.registry.validation.runner as r\n"
              "r.json.load = lambda f: (_ for _ in ()).throw(SystemExit(0))\n"
              "try:\n    r.main(['/dev/null'])\nexcept SystemExit:\n    pass")
    for setup in (cli, runner):
        loaded, cpu = probe(setup)
        assert loaded == "blocked", setup
        assert cpu < 1.0, cpu

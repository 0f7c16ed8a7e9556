"""The lab extension's TypeScript unit tests (jest, in labextension/): spec parsing, the
handshake, the status text. `make install` (pip's build of the package) installed its npm packages."""

from __future__ import annotations

import os
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(ROOT, "labextension")


def test_jest():
    jest = os.path.join(LAB, "node_modules", "jest", "bin", "jest.js")
    assert shutil.which("node"), "node is needed for the lab extension's tests (apt-get install nodejs npm)"
    assert os.path.exists(jest), "labextension/node_modules is missing: run `make install` (or npm ci --prefix labextension)"
    out = subprocess.run(["node", jest, "--ci", "--silent"], cwd=LAB, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, CI="true"))
    printed = out.stdout + out.stderr
    assert out.returncode == 0, printed
    assert "Tests:" in printed and "failed" not in printed.split("Tests:")[1].split("\n")[0], printed


def test_the_bundle_is_built_and_installed():
    """pip's build put the bundle where JupyterLab finds prebuilt extensions, enabled, beside the
    server extension's switch."""
    import sys

    share = os.path.join(sys.prefix, "share", "jupyter", "labextensions", "gilgamesh-lab")
    assert os.path.isfile(os.path.join(share, "package.json")), f"{share} is missing: reinstall with pip install -e '.[lab]'"
    assert any(n.startswith("remoteEntry.") for n in os.listdir(os.path.join(share, "static")))
    config = os.path.join(sys.prefix, "etc", "jupyter", "jupyter_server_config.d", "gilgamesh.json")
    import json

    with open(config, encoding="utf-8") as fh:
        assert json.load(fh)["ServerApp"]["jpserver_extensions"]["gilgamesh.service.jupyter"] is True

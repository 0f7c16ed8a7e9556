"""Integrity end to end: altered content is never run or served; pinned imports survive an outage.

A real service (``gilgamesh serve``) and fresh Python processes importing over HTTP with their
own cache. The cached notebook is altered so that, if it ran, it would create a marker file:
with the service up the import refuses the altered copy and fetches the genuine one again; with
the service stopped it fails with an integrity error. A damaged compiled-code cache is never run
either. With the service stopped, every pinned import already fetched keeps working, and one
never fetched fails naming the unreachable registry. On the server side, a registry blob altered
on disk is never served.
"""

from __future__ import annotations

import glob
import hashlib
import os
import subprocess
import sys

import pytest
import requests

import nbfactory as f
from reliability_kit import Service

IMPORTS = (
    "from gilgamesh.api.demo.v1_0 import scale as a\n"
    "from gilgamesh.api.demo.v1 import scale as b\n"
    "import gilgamesh.api.demo.v1_0_0 as exact\n"
    "print(a(2.0), b(2.0), exact.scale(3.0), exact.__version__, b.__module__)\n"
)


def _python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


@pytest.fixture
def served(tmp_path, private_cache):
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path / "registry")
    init_registry(root)
    publish(root, f.simple_api("demo", "1.0.0"), validate=False)
    publish(root, f.simple_api("demo", "1.1.0", scale_default="2.0", extra='def more(y: int) -> int:\n    """More."""\n    return y'),
            validate=False)
    publish(root, f.simple_api("other", "1.0.0"), validate=False)  # never imported by the tests
    service = Service(root, str(tmp_path / "service.log"))
    try:
        yield service
    finally:
        service.stop()


def test_altered_caches_are_never_run_and_pinned_imports_survive_an_outage(served, tmp_path, figures):
    service = served
    cache = str(tmp_path / "client-cache")
    env = {"GILGAMESH_REGISTRY": service.url, "GILGAMESH_CACHE": cache}
    marker = tmp_path / "tampered-code-ran"

    first = _python(IMPORTS, env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("4.0 4.0 6.0 1.0.0"), first.stdout  # demo@1 is 1.1.0 (factor 2.0 too)
    sha = requests.get(service.url + "/api/notebooks/demo/1.0.0", timeout=30).json()["sha256"]
    notebook = os.path.join(cache, "notebooks", f"{sha}.ipynb")
    with open(notebook, "rb") as fh:
        genuine = fh.read()
    assert hashlib.sha256(genuine).hexdigest() == sha

    def tamper() -> None:
        """Rewrite the cached notebook so that running it would leave the marker file."""
        evil = genuine.replace(b"UNIT = 'm'", b"UNIT = 'm'; open(%r, 'w').write('ran')" % str(marker).encode())
        assert evil != genuine
        with open(notebook, "wb") as fh:
            fh.write(evil)
        for code in glob.glob(os.path.join(cache, "code", f"{sha}-*")):
            os.unlink(code)  # so that the import must read the notebook again

    # Service up: the altered copy is refused, the genuine one fetched again.
    tamper()
    up = _python("import warnings; warnings.simplefilter('always')\n" + IMPORTS, env)
    assert up.returncode == 0, up.stderr
    assert up.stdout.startswith("4.0 4.0 6.0 1.0.0")
    assert "integrity" in up.stderr.lower(), up.stderr
    assert not marker.exists()
    with open(notebook, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == sha  # repaired

    # Service stopped: pinned imports keep working from the cache.
    service.stop()
    down = _python(IMPORTS, env)
    assert down.returncode == 0, down.stderr
    assert down.stdout.startswith("4.0 4.0 6.0 1.0.0")
    never = _python("import gilgamesh.api.other.v1", env)
    assert never.returncode == 1 and "RegistryUnavailable" in never.stderr, never.stderr

    # Service stopped and the cached notebook altered: an integrity error, nothing run.
    tamper()
    broken = _python(IMPORTS, env)
    assert broken.returncode == 1
    assert "IntegrityError" in broken.stderr and sha in broken.stderr, broken.stderr
    assert not marker.exists()

    # A damaged compiled-code cache is never run: recompiled from the verified notebook, or refused.
    with open(notebook, "wb") as fh:
        fh.write(genuine)
    assert _python(IMPORTS, env).returncode == 0  # rebuilds the code cache offline
    (code,) = glob.glob(os.path.join(cache, "code", f"{sha}-*"))
    with open(code, "r+b") as fh:
        fh.seek(-8, os.SEEK_END)
        fh.write(b"\x00" * 8)
    damaged = _python(IMPORTS, env)
    if damaged.returncode == 0:
        assert damaged.stdout.startswith("4.0 4.0 6.0 1.0.0") and "integrity" in damaged.stderr.lower()
    else:
        assert "IntegrityError" in damaged.stderr, damaged.stderr
    figures("damaged code cache", "discarded and recompiled" if damaged.returncode == 0 else "refused")
    figures("altered caches refused (notebook online, notebook offline, compiled code)", 3)
    figures("pinned imports (3 spellings) with the service stopped", "all served from the cache")


def test_an_altered_registry_blob_is_never_served(served, tmp_path):
    service = served
    entry = requests.get(service.url + "/api/notebooks/demo/1.0.0", timeout=30).json()
    blob = os.path.join(service.root, "blobs", f"{entry['sha256']}.ipynb")
    with open(blob, "r+b") as fh:
        fh.seek(10)
        fh.write(b"X")
    r = requests.get(service.url + "/api/notebooks/demo/1.0.0/notebook", timeout=30)
    assert r.status_code == 500 and "integrity check failed" in r.json()["error"]["message"], r.text[:300]
    call = requests.post(service.url + "/models/demo/1.0.0/scale", json={"x": 1}, timeout=60)
    # Answered as the model failing to import (422), not served: the worker verifies the sha256 too.
    assert call.status_code >= 400 and "integrity check failed" in call.text, call.text[:300]
    assert requests.get(service.url + "/healthz", timeout=30).status_code == 200

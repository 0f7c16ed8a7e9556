"""What the lab extension's tests share: a seeded registry, the Gilgamesh kernel in a Jupyter path."""

from __future__ import annotations

import os

import nbfactory as f


def seed_registry(root: str) -> str:
    """A registry of two APIs: plasma 1.0.0 (deprecated) and 1.1.0; demo 1.0.0 (yanked) and 1.1.0,
    whose first code cell imports ``gilgamesh.api.plasma@1``."""
    from gilgamesh.registry.facade import LocalRegistry
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    init_registry(root)
    publish(root, f.simple_api("plasma", "1.0.0"), publisher="test", validate=False)
    publish(root, f.simple_api("plasma", "1.1.0"), publisher="test", validate=False)
    for version in ("1.0.0", "1.1.0"):
        cells = [
            f.markdown("# demo\n\nTwice a plasma scale: $y = 2 s x$."),
            f.code("from gilgamesh.api.plasma@1 import scale"),
            f.markdown("Twice the scaled length."),
            f.code('def double(x: float) -> float:\n    """Twice the plasma scale of x."""\n    return 2 * scale(x)'),
        ]
        publish(root, f.to_bytes(f.notebook("demo", version, cells, summary="Twice a plasma scale.")),
                publisher="test", validate=False)
    registry = LocalRegistry(root, "test")
    registry.set_yanked("demo", "1.0.0", "wrong factor")
    registry.set_deprecated("plasma", "1.0.0", "use 1.1")
    return root


def install_gilgamesh_kernel(data_dir: str) -> str:
    """The kernel "Python 3 (Gilgamesh)" of this Python in ``data_dir``/kernels (a JUPYTER_DATA_DIR)."""
    import json
    import sys

    from gilgamesh.loader.kernelspec import kernel_json

    path = os.path.join(data_dir, "kernels", "gilgamesh")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "kernel.json"), "w", encoding="utf-8") as fh:
        json.dump(kernel_json(sys.executable), fh)
    return path


# -- a JupyterLab process ------------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """``jupyter lab`` in a process of its own, with a Jupyter environment of its own under ``home``:
    the Gilgamesh kernel in its data directory, nothing of this machine's user configuration, the
    announcements (news fetched from the internet) off. ``lab_extension=False`` runs the same
    JupyterLab with Gilgamesh's lab and server extensions disabled (the page-load comparison)."""

    def __init__(self, home: str, registry: str, lab_extension: bool = True):
        import secrets
        import subprocess
        import sys

        self.home, self.token, self.port = home, secrets.token_hex(16), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.root = os.path.join(home, "root")
        data, config = os.path.join(home, "data"), os.path.join(home, "config")
        for d in (self.root, data, os.path.join(config, "labconfig"), os.path.join(home, "runtime")):
            os.makedirs(d, exist_ok=True)
        install_gilgamesh_kernel(data)
        disabled = {"@jupyterlab/apputils-extension:announcements": True,
                    "@jupyterlab/extensionmanager-extension:plugin": True}
        if not lab_extension:
            disabled["gilgamesh-lab"] = True
        import json

        with open(os.path.join(config, "labconfig", "page_config.json"), "w", encoding="utf-8") as fh:
            json.dump({"disabledExtensions": disabled}, fh)
        if not lab_extension:  # the user's configuration wins over the environment's config.d
            with open(os.path.join(config, "jupyter_server_config.json"), "w", encoding="utf-8") as fh:
                json.dump({"ServerApp": {"jpserver_extensions": {"gilgamesh.service.jupyter": False}}}, fh)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "GILGAMESH"))}
        env.update(JUPYTER_CONFIG_DIR=config, JUPYTER_DATA_DIR=data, JUPYTER_RUNTIME_DIR=os.path.join(home, "runtime"),
                   GILGAMESH_REGISTRY=registry, GILGAMESH_CACHE=os.path.join(home, "cache"), HOME=home,
                   GILGAMESH_ENVIRONMENT_WARNINGS="0")
        argv = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={self.port}", "--ip=127.0.0.1",
                f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                "--LabApp.expose_app_in_browser=True", "--ServerApp.port_retries=0", "--allow-root"]
        self.log = open(os.path.join(home, "jupyter.log"), "w")
        self.process = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self, timeout: float = 90) -> None:
        import time
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited {self.process.returncode}: {self.read_log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"jupyter lab did not answer in {timeout} s: {self.read_log()}")

    def read_log(self) -> str:
        self.log.flush()
        with open(self.log.name, encoding="utf-8", errors="replace") as fh:
            return fh.read()[-4000:]

    def page_url(self, path: str = "lab") -> str:
        return f"{self.url}/{path}?token={self.token}"

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except Exception:  # noqa: BLE001
            self.process.kill()
            self.process.wait()
        self.log.close()


# The page is ready once JupyterLab restored its layout (window.jupyterapp: expose_app_in_browser).
WAIT_RESTORED = "async () => { while (!window.jupyterapp) { await new Promise(r => setTimeout(r, 20)); } " \
                "await window.jupyterapp.restored; return true; }"

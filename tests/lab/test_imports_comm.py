"""The IPython extension names the versions a kernel imported over the comm gilgamesh.imports: the
kernel opens it at the first versioned import and sends again only when the set changes."""

from __future__ import annotations

import os
import sys

import pytest

from lab_kit import seed_registry

pytestmark = pytest.mark.slow


def _comm_messages(kc, code: str, timeout: float = 60) -> list[dict]:
    """The comm messages (open and msg) that running ``code`` made, until the kernel is idle."""
    msg_id = kc.execute(code)
    found = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind in ("comm_open", "comm_msg"):
            found.append(msg)
        elif kind == "error":
            raise AssertionError("\n".join(msg["content"]["traceback"]))
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            return found


def test_the_kernel_pushes_its_imports(tmp_path):
    from jupyter_client.manager import start_new_kernel

    from gilgamesh.loader.kernelspec import kernel_json

    registry = seed_registry(str(tmp_path / "registry"))
    env = dict(os.environ, GILGAMESH_REGISTRY=registry, GILGAMESH_CACHE=str(tmp_path / "cache"))
    km, kc = start_new_kernel(kernel_name="python3", env=env, extra_arguments=["--ext=gilgamesh"],
                              startup_timeout=120)
    assert kernel_json()["argv"][-1] == "--ext=gilgamesh"  # the Gilgamesh kernel loads it so too
    try:
        assert _comm_messages(kc, "x = 1") == []  # nothing imported: no comm
        (opened,) = _comm_messages(kc, "from gilgamesh.api.plasma@1 import scale")
        assert opened["msg_type"] == "comm_open" and opened["content"]["target_name"] == "gilgamesh.imports"
        assert opened["content"]["data"]["imports"] == [
            {"name": "plasma", "version": "1.1.0", "specs": ["1", "1.1.0"], "yanked": False, "deprecated": False}]
        assert _comm_messages(kc, "from gilgamesh.api.plasma@1 import scale as again") == []  # unchanged
        (sent,) = _comm_messages(kc, "import gilgamesh.api.demo.v1_1 as demo")
        assert sent["msg_type"] == "comm_msg" and sent["content"]["comm_id"] == opened["content"]["comm_id"]
        names = [(i["name"], i["version"]) for i in sent["content"]["data"]["imports"]]
        assert names == [("demo", "1.1.0"), ("plasma", "1.1.0")]
        # No frontend registered the target here; what the kernel printed is only what the cells did.
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_imported_versions_reads_sys_modules():
    from types import ModuleType, SimpleNamespace

    from gilgamesh.loader.extension import imported_versions

    state = SimpleNamespace(name="plasma", version="1.0.0", yanked=True, deprecated=None,
                            module_name="gilgamesh.api.plasma.v1_0_0")
    module = ModuleType("gilgamesh.api.plasma.v1_0_0")
    module.__spec__ = SimpleNamespace(loader_state=state)
    modules = {"gilgamesh.api.plasma.v1_0_0": module, "gilgamesh.api.plasma.v1": module,
               "gilgamesh.api.plasma": ModuleType("handle"), "sys": sys}
    assert imported_versions(modules) == [
        {"name": "plasma", "version": "1.0.0", "specs": ["1", "1.0.0"], "yanked": True, "deprecated": False}]

"""The Jupyter kernel "Python 3 (Gilgamesh)": ipykernel with the extension preloaded.

``gilgamesh kernel install [--user | --sys-prefix | --prefix P]`` calls :func:`install_kernelspec`.
The kernel runs this very Python (the one Gilgamesh is installed in) and loads the extension at
start (``--ext=gilgamesh``), so the ``@`` spelling works from the first cell.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile

__all__ = ["KERNEL_NAME", "DISPLAY_NAME", "kernel_json", "kernelspec_metadata", "install_kernelspec"]

KERNEL_NAME = "gilgamesh"
DISPLAY_NAME = "Python 3 (Gilgamesh)"


def kernel_json(python: str | None = None) -> dict:
    """The ``kernel.json`` of the kernel, for ``python`` (default: this interpreter)."""
    return {
        "argv": [python or sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--ext=gilgamesh"],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True},
    }


def kernelspec_metadata() -> dict:
    """A notebook's ``metadata.kernelspec`` naming this kernel (what ``gilgamesh fork`` writes)."""
    return {"name": KERNEL_NAME, "display_name": DISPLAY_NAME, "language": "python"}


def install_kernelspec(user: bool = True, prefix: str | None = None) -> str:
    """Install the kernelspec; return the directory it was installed to.

    ``prefix`` installs into ``PREFIX/share/jupyter/kernels/gilgamesh`` (``sys.prefix`` for the
    active environment) and takes precedence over ``user``; ``user=False`` without a prefix
    installs system-wide. An existing Gilgamesh kernelspec is replaced.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, KERNEL_NAME)
        os.makedirs(source)
        with open(os.path.join(source, "kernel.json"), "w", encoding="utf-8") as f:
            json.dump(kernel_json(), f, indent=1)
        _copy_logos(source)
        return KernelSpecManager().install_kernel_spec(
            source, KERNEL_NAME, user=bool(user) and prefix is None, prefix=prefix
        )


def _copy_logos(dest: str) -> None:
    """ipykernel's Python logos, so the launcher shows the usual icon."""
    try:
        from ipykernel.kernelspec import RESOURCES
    except ImportError:  # pragma: no cover - ipykernel is a dependency
        return
    for name in ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg"):
        path = os.path.join(RESOURCES, name)
        if os.path.exists(path):
            shutil.copy(path, dest)

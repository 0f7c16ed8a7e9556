"""The Jupyter kernel "Python 3 (Gilgamesh)": ipykernel with the extension preloaded.

``gilgamesh kernel install [--sys-prefix | --prefix P] [--replace]`` calls :func:`install_kernel`.
The kernel runs this very Python (the one Gilgamesh is installed in) and loads the extension at
start (``--ext=gilgamesh``), so the ``@`` spelling works from the first cell.

One kernel name, ``gilgamesh``, a notebook carries from one environment to the next. A second
environment's install never takes that name from a kernel that runs another, still present,
Python (its notebooks would open in the wrong environment, silently): it installs under the
environment's own name instead (``gilgamesh-ENV``, "Python 3 (Gilgamesh, ENV)") and says so;
``replace=True`` (``--replace``) takes the name anyway, and every replacement names the Python
the replaced kernel ran. ``gilgamesh fork`` writes the name of the kernel that runs this Python
(:func:`kernelspec_metadata`), so a working copy opens in the environment it was forked in.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile

__all__ = ["KERNEL_NAME", "DISPLAY_NAME", "kernel_json", "kernelspec_metadata", "installed_kernel",
           "environment_kernel", "install_kernel", "install_kernelspec"]

KERNEL_NAME = "gilgamesh"
DISPLAY_NAME = "Python 3 (Gilgamesh)"


def kernel_json(python: str | None = None, display_name: str = DISPLAY_NAME) -> dict:
    """The ``kernel.json`` of the kernel, for ``python`` (default: this interpreter)."""
    return {
        "argv": [python or sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--ext=gilgamesh"],
        "display_name": display_name,
        "language": "python",
        "metadata": {"debugger": True},
    }


def _python_of(resource_dir: str | None) -> str | None:
    """The interpreter a kernelspec directory's ``kernel.json`` starts (None: none readable)."""
    if not resource_dir:
        return None
    try:
        with open(os.path.join(resource_dir, "kernel.json"), encoding="utf-8") as f:
            argv = json.load(f).get("argv") or []
    except (OSError, ValueError, AttributeError):
        return None
    return argv[0] if argv and isinstance(argv[0], str) else None


def _is_this_python(python: str | None) -> bool:
    # Not realpath: every venv's python is a symlink to the same base interpreter.
    return python is not None and os.path.abspath(python) == os.path.abspath(sys.executable)


def _is_gilgamesh_kernel(name: str) -> bool:
    return name == KERNEL_NAME or name.startswith(KERNEL_NAME + "-")


def installed_kernel() -> tuple[str, str] | None:
    """``(name, display name)`` of the Gilgamesh kernel Jupyter finds that runs this Python.

    ``gilgamesh`` if that one does, else this environment's own (``gilgamesh-ENV``); None when
    Jupyter finds neither (no ``gilgamesh kernel install`` here yet, or it is shadowed).
    """
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        specs = KernelSpecManager().find_kernel_specs()
    except Exception:  # noqa: BLE001 - Jupyter's own configuration is not ours to fail on
        return None
    mine = sorted((name != KERNEL_NAME, name) for name, d in specs.items()
                  if _is_gilgamesh_kernel(name) and _is_this_python(_python_of(d)))
    if not mine:
        return None
    name = mine[0][1]
    try:
        with open(os.path.join(specs[name], "kernel.json"), encoding="utf-8") as f:
            display = json.load(f).get("display_name") or DISPLAY_NAME
    except (OSError, ValueError):
        display = DISPLAY_NAME
    return name, display


def kernelspec_metadata() -> dict:
    """A notebook's ``metadata.kernelspec`` naming the kernel it opens in (what ``gilgamesh fork`` writes):
    the installed Gilgamesh kernel that runs this Python, else ``gilgamesh`` (which
    ``gilgamesh kernel install`` installs)."""
    name, display = installed_kernel() or (KERNEL_NAME, DISPLAY_NAME)
    return {"name": name, "display_name": display, "language": "python"}


def environment_kernel(prefix: str | None = None) -> tuple[str, str]:
    """``(name, display name)`` of this environment's own kernel: ``gilgamesh-main`` and
    "Python 3 (Gilgamesh, main)" for ``/work/main/.venv`` (a directory called ``.venv``,
    ``venv`` or ``env`` is named by the directory it is in)."""
    path = os.path.normpath(os.path.abspath(prefix or sys.prefix))
    label = os.path.basename(path)
    if label.lower() in {".venv", "venv", "env", ".env", "virtualenv", ".virtualenv"}:
        label = os.path.basename(os.path.dirname(path)) or label
    slug = re.sub(r"[^a-z0-9._-]+", "-", label.lower()).strip("-.") or hashlib.sha256(path.encode()).hexdigest()[:8]
    return f"{KERNEL_NAME}-{slug}", f"Python 3 (Gilgamesh, {label})"


def _other_python(resource_dir: str | None) -> str | None:
    """The Python a kernelspec directory starts, if it is another one that is still there."""
    python = _python_of(resource_dir)
    return python if python is not None and not _is_this_python(python) and os.path.exists(python) else None


def install_kernel(user: bool = True, prefix: str | None = None, replace: bool = False) -> dict:
    """Install this environment's kernel; what was done, for ``gilgamesh kernel install``.

    ``prefix`` installs into ``PREFIX/share/jupyter/kernels/NAME`` (``sys.prefix`` for the
    active environment) and takes precedence over ``user``; ``user=False`` without a prefix
    installs system-wide. The name is ``gilgamesh`` unless the ``gilgamesh`` kernel already
    there runs another Python that still exists: then this environment's own name
    (:func:`environment_kernel`), unless ``replace``. Returns ``{"path", "name", "display_name",
    "python", "replaced", "kept", "shadowed_by"}``: ``replaced`` the Python of the kernel this
    install overwrote when it ran another one, ``kept`` (``{"name", "python", "path"}``) the other
    environment's kernel left in place, ``shadowed_by`` (the same keys) a kernel of the same name
    that Jupyter finds before this one and that runs another Python.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    ksm = KernelSpecManager()
    user = bool(user) and prefix is None

    def destination(name: str) -> str:
        return ksm._get_destination_dir(name, user=user, prefix=prefix)

    name, display = KERNEL_NAME, DISPLAY_NAME
    kept = None
    other = None if replace else _other_python(destination(name))
    if other is not None:
        kept = {"name": name, "python": other, "path": destination(name)}
        name, display = environment_kernel()
        if _other_python(destination(name)) is not None:  # two environments in directories of one name
            name += "-" + hashlib.sha256(os.path.abspath(sys.prefix).encode()).hexdigest()[:8]
    previous = _python_of(destination(name))
    replaced = previous if previous is not None and not _is_this_python(previous) else None
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, name)
        os.makedirs(source)
        with open(os.path.join(source, "kernel.json"), "w", encoding="utf-8") as f:
            json.dump(kernel_json(display_name=display), f, indent=1)
        _copy_logos(source)
        path = ksm.install_kernel_spec(source, name, user=user, prefix=prefix)
    first = ksm.find_kernel_specs().get(name)
    shadow = _other_python(first) if first and os.path.abspath(first) != os.path.abspath(path) else None
    shadowed_by = {"name": name, "python": shadow, "path": first} if shadow else None
    return {"path": path, "name": name, "display_name": display, "python": sys.executable,
            "replaced": replaced, "kept": kept, "shadowed_by": shadowed_by}


def install_kernelspec(user: bool = True, prefix: str | None = None) -> str:
    """Install the kernelspec (:func:`install_kernel`); return the directory it was installed to."""
    return install_kernel(user=user, prefix=prefix)["path"]


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

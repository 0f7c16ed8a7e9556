"""The file-system sandbox for code from notebooks: validation kernels and model workers.

Published notebooks are code from many hands, run by the registry (validation) and by the
service (model endpoints anyone may call). Under bubblewrap (``bwrap``) they see the whole file
system read-only, so the interpreter, the packages and data files stay readable, with two
exceptions: the directories given as writable, and the registry, replaced by an empty directory
into which only what imports read is bound back, read-only (so ``tokens.json`` is out of reach).
Capabilities are dropped, so the code cannot remount. Without ``bwrap`` the command runs as it is.
"""

from __future__ import annotations

import os
import shutil

__all__ = ["sandboxed", "sandbox_available", "READABLE_REGISTRY_PARTS"]

READABLE_REGISTRY_PARTS = ("store.git", "index", "blobs")  # what the loader reads


def sandbox_available() -> bool:
    return shutil.which("bwrap") is not None


def sandboxed(argv: list[str], registry_root: str, writable: list[str]) -> list[str]:
    """``argv`` wrapped in the sandbox, or unchanged where ``bwrap`` is not installed.

    File descriptors are inherited as usual (the model workers talk over a socket pair).
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return argv
    cmd = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", registry_root]
    for part in READABLE_REGISTRY_PARTS:
        path = os.path.join(registry_root, part)
        if os.path.isdir(path):
            cmd += ["--ro-bind", path, path]
    for path in writable:
        cmd += ["--bind", path, path]
    cmd += ["--cap-drop", "ALL", "--new-session", "--die-with-parent", "--unshare-ipc", "--"]
    return cmd + argv

"""The environment a validation runs in, as one key: what makes two runs of one notebook differ.

Two things are keyed on it: a pre-started validation kernel (:mod:`gilgamesh.registry.validation.prestart`),
which is only handed to a job of the very environment it was started in, and a remembered
verdict (``validation-cache/``, :func:`gilgamesh.registry.validation.launch.validation_key`),
which only answers for the environment that reached it. :func:`environment_key` covers:

* the interpreter: its path (as given and resolved), ``sys.version``, its prefixes;
* the installed distributions, cheaply: the modification time of each ``site-packages``
  directory (and the user site, and every ``PYTHONPATH`` entry), which an install, an upgrade or
  an uninstall changes (a ``.dist-info`` directory comes or goes), and the size and modification
  time of every Python file of Gilgamesh itself (an editable install is edited in place);
* the registry (``GILGAMESH_REGISTRY`` is set to it for the kernel, its parts are bound into the
  sandbox when the runner starts): its path and the identity (device, inode) of its directories,
  so a registry made anew at the same path is another one (for a ready kernel only: a verdict
  holds for a copy of the registry, its dependencies being in its key by hash); the settings of its ``settings.json``
  that a run runs under (``sandbox``, ``require_sandbox``, every ``sandbox_*`` and ``validation_*``
  limit; not, say, ``cors_origins``), and whether the sandbox is in force;
* the environment variables the runner and its kernel see (:func:`runner_environment`): under the
  sandbox its allow-list, without it every variable but the shell's own bookkeeping (``PWD``,
  ``OLDPWD``, ``SHLVL``, ``_``); never those set per run (the scratch paths);
* the validator's version (:data:`VALIDATOR_VERSION`), the keeper's protocol and the user (uid).

A few milliseconds (a few hundred ``stat`` calls); computed again for every validation, never
remembered.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

from gilgamesh.registry.sandbox.launch import SECRET_WORDS, allowed_environment

__all__ = ["VALIDATOR_VERSION", "environment_key", "keyed_environment", "runner_environment", "packages_fingerprint", "source_fingerprint",
           "holds_secrets", "SCRATCH_VARIABLES", "PRESTART_VARIABLES"]

# Set per run, to paths in that run's scratch directory: never part of the key.
SCRATCH_VARIABLES = frozenset({
    "TMPDIR", "MPLCONFIGDIR", "GILGAMESH_REGISTRY", "GILGAMESH_CACHE", "IPYTHONDIR", "JUPYTER_RUNTIME_DIR",
    "PYDEVD_DISABLE_FILE_VALIDATION", "GILGAMESH_VALIDATION_RUN",
})
# The pre-start's own switches: for this process, not for the notebook's kernel.
PRESTART_VARIABLES = frozenset({"GILGAMESH_PRESTART", "GILGAMESH_PRESTART_IDLE", "GILGAMESH_RUNTIME_DIR"})
# What a shell changes between two commands without changing what they run.
SHELL_BOOKKEEPING = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})
PROTOCOL = 1  # the keeper's protocol, and the shape of this key: bump both together
# Part of every key (a verdict's, a ready runner's): bump it when the verdict for the same input
# may change. (Here, below launch.py and prestart.py, which both key on it; launch.py exports it.)
VALIDATOR_VERSION = 4


def runner_environment(env) -> dict[str, str]:
    """The caller's environment as the validation runner starts from it (before its scratch
    paths): no publish token, no matplotlib backend (ipykernel picks its inline one), none of the
    pre-start's own switches."""
    out = dict(env)
    for name in ("GILGAMESH_TOKEN", "MPLBACKEND", *PRESTART_VARIABLES):
        out.pop(name, None)
    return out


def keyed_environment(env, sandbox: bool) -> dict[str, str]:
    """The variables of ``env`` (a :func:`runner_environment`) that reach the notebook's kernel and
    are the same from one command to the next: the sandbox's allow-list, or without the sandbox
    all of them but the shell's bookkeeping; never the per-run scratch paths."""
    visible = allowed_environment(env) if sandbox else dict(env)
    return {k: v for k, v in visible.items() if k not in SCRATCH_VARIABLES and k not in SHELL_BOOKKEEPING}


def holds_secrets(env) -> bool:
    """Whether a variable of ``env`` looks like a credential (the sandbox's words: TOKEN, KEY, ...)."""
    return any(word in name.upper() for name in env for word in SECRET_WORDS)


def run_settings(settings: dict) -> dict:
    """The settings a validation run runs under: the sandbox's and the validation's."""
    return {k: v for k, v in settings.items()
            if k.startswith(("sandbox", "validation_")) or k == "require_sandbox"}


def _site_directories(env) -> list[str]:
    import site

    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    dirs += [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    return dirs


def packages_fingerprint(directories: list[str]) -> list:
    """``[[directory, mtime_ns], ...]`` (``None`` for one that is not there): installing,
    upgrading or removing a distribution adds or removes an entry, and so moves the time."""
    found = []
    for d in directories:
        try:
            found.append([d, os.stat(d).st_mtime_ns])
        except OSError:
            found.append([d, None])
    return found


def registry_identity(root: str) -> list:
    """``[[part, device, inode], ...]`` of the registry's directory and the parts the sandbox binds."""
    from gilgamesh.registry.sandbox.launch import READABLE_REGISTRY_PARTS

    found = []
    for part in ("", *READABLE_REGISTRY_PARTS):
        try:
            st = os.stat(os.path.join(root, part))
            found.append([part, st.st_dev, st.st_ino])
        except OSError:
            found.append([part, None, None])
    return found


_SOURCE_DIRS: list[str] | None = None
_SKIP = frozenset({"__pycache__", "node_modules", "static", "templates"})


def _source_directories() -> list[str]:
    """Where Gilgamesh's code is (the core, the loader, the registry: what the runner and the
    kernel import); the service is not among them. Found once a process: it does not move."""
    global _SOURCE_DIRS
    if _SOURCE_DIRS is None:
        import importlib.util

        dirs: list[str] = []
        for package in ("gilgamesh", "gilgamesh.loader", "gilgamesh.registry"):
            spec = importlib.util.find_spec(package)
            if spec is not None and spec.submodule_search_locations:
                dirs += [os.path.abspath(d) for d in spec.submodule_search_locations]
        _SOURCE_DIRS = sorted(set(dirs))
    return _SOURCE_DIRS


def source_fingerprint() -> str:
    """The sha256 of the name, size and modification time of every Python file of Gilgamesh's
    core, loader and registry: the code that launches the runner, and that the runner and the
    kernel import."""
    h = hashlib.sha256()
    roots = _source_directories()
    for root in roots:
        todo = [root]
        while todo:
            directory = todo.pop()
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    # The core's directory holds the loader's and the registry's only in a wheel.
                    if entry.name not in _SKIP and entry.path not in roots:
                        todo.append(entry.path)
                elif entry.name.endswith(".py"):
                    try:
                        st = entry.stat()
                    except OSError:
                        continue
                    h.update(f"{entry.path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def environment_key(root: str, settings: dict, sandbox: bool | None, env, validator: int = VALIDATOR_VERSION,
                    *, registry: bool = True) -> tuple[str, dict]:
    """``(key, parts)``: the sha256 of everything that makes two validation runs differ (the module
    docstring), and the parts it is made of. ``env`` is a :func:`runner_environment`.

    ``registry=False`` leaves the registry's path and identity out, for a verdict: what the
    notebook imports from the registry is in the verdict's key by hash already (the dependency
    closure), so a copy of a registry (a new site, a restored backup) keeps its verdicts; a ready
    kernel has the registry's directories bound into its sandbox, and is only for that registry."""
    parts = {
        "protocol": PROTOCOL,
        "validator": validator,
        "uid": os.geteuid(),
        "python": [sys.executable, os.path.realpath(sys.executable), sys.version, sys.prefix, sys.base_prefix],
        "packages": packages_fingerprint(_site_directories(env)),
        "source": source_fingerprint(),
        "registry": ([root, None if "://" in root else registry_identity(root)] if registry else None),
        "settings": run_settings(settings),
        "sandbox": sandbox,
        "environment": keyed_environment(env, sandbox),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest(), parts

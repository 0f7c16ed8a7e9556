"""The sandbox for code from many hands: validation kernels, model workers, import-cell probes.

Published notebooks run in the registry (validation) and in the service (model endpoints anyone
may call). One launch contains them all, under bubblewrap (``bwrap``):

* **no network** (a network namespace of its own, loopback only): the validation kernel talks to
  its runner inside the same namespace (unix sockets), a model worker over the socket pair it
  inherits; a PID, IPC and UTS namespace of its own too, so no other process of the machine is
  visible (``/proc`` is the sandbox's own) and everything it starts dies with it;
* **an unprivileged uid**, random for each launch (so the process limit is its own): as root,
  ``setpriv`` switches to it inside and clears every capability; otherwise a user namespace maps it;
* **a minimal file system**: read-only ``/usr``, the few files of ``/etc`` that programs need (a
  stub ``passwd``, no ``shadow``), the interpreter's prefixes, site-packages and the package's own
  directories, and of the registry only what imports read (:data:`READABLE_REGISTRY_PARTS`, so
  neither ``tokens.json`` nor ``settings.json``); the scratch directory is a size-limited tmpfs at
  its host path, in which the host's files are bound read-only and its directories recreated
  writable; ``/home``, ``/root`` and the host's ``/tmp`` are absent;
* **an allow-listed environment** (:func:`allowed_environment`): ``PATH``, locale, ``PYTHON*``,
  the BLAS knobs and the non-secret ``GILGAMESH_*`` names, never a token, ``HOME`` in scratch;
* **limits** (``prlimit``): processes, file size, memory, and CPU time for launches that end.

Only the ``outputs`` given, files that the host made, are written back to the host's disk, each
bounded by the file-size limit; the host can read them (mode 0644).

``settings.json`` decides (:func:`use_sandbox`): ``sandbox`` (default true) turns it off on a
trusted machine; ``require_sandbox`` (written true by ``init`` where bwrap is installed) refuses
to run notebook code at all when bwrap is missing, rather than running it unconfined.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import random
import shutil
import site
import sys

from gilgamesh.errors import GilgameshError

__all__ = [
    "READABLE_REGISTRY_PARTS", "Limits", "SandboxRequired", "allowed_environment", "sandbox_available",
    "sandboxed", "use_sandbox",
]

READABLE_REGISTRY_PARTS = ("store.git", "index", "blobs")  # what the loader reads
# What the interpreter, its libraries and the dynamic linker read of /etc (fontconfig: figures
# drawn with system fonts), and the caches they read elsewhere.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "hosts", "host.conf",
             "gai.conf", "protocols", "services", "mime.types", "ssl", "alternatives", "fonts", "matplotlibrc")
SYSTEM_CACHES = ("/var/cache/fontconfig",)
# The environment a sandboxed process may see: these names, and these prefixes.
ENV_NAMES = frozenset({
    "PATH", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", "MPLBACKEND", "MPLCONFIGDIR", "IPYTHONDIR",
    "JUPYTER_RUNTIME_DIR", "PYDEVD_DISABLE_FILE_VALIDATION", "GILGAMESH_REGISTRY", "GILGAMESH_CACHE",
    "GILGAMESH_VALIDATION_RUN", "GILGAMESH_ENVIRONMENT_WARNINGS", "GILGAMESH_CONTAINED",
})
ENV_PREFIXES = ("LC_", "PYTHON", "OPENBLAS_", "OMP_", "MKL_")
# Never passed, whatever the allow-list says: a name that looks like a credential.
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "KEY", "AUTH")
UID_RANGE = (1_000_000, 2_000_000_000)  # far from any real account, and from subuid ranges


class SandboxRequired(GilgameshError):
    """The registry requires the sandbox, and bubblewrap is not installed."""

    http_status = 503


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one sandboxed launch may use (``settings.json`` ``sandbox_*``); ``None``: no limit."""

    scratch_mb: int  # the scratch tmpfs (and /dev/shm), each
    processes: int  # RLIMIT_NPROC: processes and threads of the sandbox's uid
    file_mb: int  # RLIMIT_FSIZE: the largest file it may write
    memory_mb: int | None  # RLIMIT_AS of each process
    cpu_seconds: int | None  # RLIMIT_CPU of each process

    @classmethod
    def from_settings(cls, settings: dict) -> "Limits":
        """The ``sandbox_*`` values of a registry's settings, as the settings table checked them."""
        return cls(**{field.name: settings[f"sandbox_{field.name}"] for field in dataclasses.fields(cls)})


def sandbox_available() -> bool:
    return shutil.which("bwrap") is not None


def use_sandbox(settings: dict) -> bool:
    """Whether to sandbox notebook code under ``settings``; raises :class:`SandboxRequired`."""
    if not settings.get("sandbox", True):
        return False  # the owner turned it off (a trusted machine)
    if sandbox_available():
        return True
    if settings.get("require_sandbox", False):
        raise SandboxRequired(
            "this registry requires the sandbox for notebook code (require_sandbox in its settings.json), "
            "but bubblewrap is not installed: install it (apt-get install bubblewrap, or make sandbox), or set "
            "require_sandbox to false to run notebook code unconfined on this machine")
    return False


def allowed_environment(env: dict[str, str]) -> dict[str, str]:
    """The part of ``env`` a sandboxed process may see."""
    return {k: v for k, v in env.items()
            if (k in ENV_NAMES or k.startswith(ENV_PREFIXES)) and not any(w in k.upper() for w in SECRET_WORDS)}


def _python_dirs(env: dict[str, str]) -> list[str]:
    """What the interpreter reads: its prefixes, site-packages, this package, ``PYTHONPATH``, itself."""
    dirs = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages()]
    for sub in ("", ".loader", ".registry", ".service", ".api"):  # an editable install maps them apart
        spec = importlib.util.find_spec("gilgamesh" + sub)
        if spec is not None and spec.submodule_search_locations:
            dirs += list(spec.submodule_search_locations)
    dirs += [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    real = {os.path.realpath(d) for d in dirs if os.path.isabs(d) and os.path.isdir(d)}
    # The interpreter itself, wherever it is (a wrapper script in front of it, say).
    real |= {os.path.realpath(sys.executable), os.path.abspath(sys.executable)}
    # Only the outermost: a bind inside another one is already there.
    return sorted(d for d in real if not any(d != o and d.startswith(o.rstrip("/") + "/") for o in real | {"/usr"})
                  and d != "/usr")


class _Command:
    """bwrap's arguments, creating every parent directory of a mount point as 0755 first."""

    def __init__(self, bwrap: str):
        # bwrap and its init (the sandbox's pid 1) start with an empty environment: --clearenv
        # clears only the program's, and a process of the sandbox may read /proc/1/environ.
        self.args = [shutil.which("env") or "/usr/bin/env", "-i", bwrap]
        self.dirs: set[str] = {"/"}

    def parents(self, path: str) -> None:
        parent = os.path.dirname(path)
        if parent not in self.dirs:
            self.parents(parent)
            self.args += ["--perms", "0755", "--dir", parent]
            self.dirs.add(parent)

    def add(self, option: str, source: str | None, dest: str, *before: str) -> None:
        """``option [source] dest``, preceded by ``before`` (``--perms``, ``--size``: they apply to it)."""
        self.parents(dest)
        self.args += [*before, option, source, dest] if source is not None else [*before, option, dest]
        self.dirs.add(dest)


def _stub_accounts(scratch: str, uid: int) -> tuple[str, str]:
    """A ``passwd`` and ``group`` that know only the sandbox's user (none of the host's)."""
    stub = os.path.join(scratch, ".sandbox-etc")
    os.makedirs(stub, exist_ok=True)
    passwd, group = os.path.join(stub, "passwd"), os.path.join(stub, "group")
    with open(passwd, "w") as f:
        f.write(f"sandbox:x:{uid}:{uid}:sandbox:{scratch}:/usr/sbin/nologin\nnobody:x:65534:65534::/:/usr/sbin/nologin\n")
    with open(group, "w") as f:
        f.write(f"sandbox:x:{uid}:\nnogroup:x:65534:\n")
    return passwd, group


def sandboxed(argv: list[str], *, registry_root: str | None, scratch: str, env: dict[str, str], limits: Limits,
              outputs: tuple[str, ...] = (), writable: tuple[str, ...] = (), cwd: str | None = None,
              network: bool = False) -> list[str]:
    """``argv`` wrapped in the sandbox (see the module docstring); bwrap must be installed.

    ``scratch`` is a directory the caller made on the host: inside, a tmpfs of ``limits.scratch_mb``
    at the same path, with the files the caller put there bound read-only and its directories
    recreated empty and writable. ``outputs`` are files in it that the caller made and will read
    back. ``writable`` are directories of the caller's bound writable: the process then runs as the
    caller (a user namespace maps its uid), for ``gilgamesh run --here``, the author's own notebook
    writing beside itself. ``env`` is filtered by :func:`allowed_environment` and set inside (``HOME`` is the
    scratch). File descriptors are inherited as usual (the model workers talk over a socket pair).
    ``network`` keeps the host's network: only for a probe of the author's own working copy
    against a registry reached over HTTP.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxRequired("bubblewrap (bwrap) is not installed: install it (apt-get install bubblewrap)")
    uid = random.randint(*UID_RANGE)
    # As root, setpriv gives the process a uid of its own, which the process limit counts alone
    # (root's processes it would not count). Writing the caller's directories takes the caller's uid.
    as_root = os.geteuid() == 0 and not writable
    scratch = os.path.abspath(scratch)
    outputs = tuple(os.path.abspath(p) for p in outputs)
    cmd = _Command(bwrap)
    cmd.args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "sandbox",
                 "--die-with-parent", "--new-session", "--clearenv"]
    if not network:
        cmd.args.append("--unshare-net")
    if not as_root:  # bwrap makes a user namespace anyway; map the uid there
        cmd.args += ["--unshare-user", "--uid", str(uid), "--gid", str(uid), "--cap-drop", "ALL"]
    # The system: /usr and its merged-/usr links, the few files of /etc, devices, a /proc of its own.
    cmd.add("--ro-bind", "/usr", "/usr")
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            cmd.add("--symlink", os.readlink(top), top)
        elif os.path.isdir(top):
            cmd.add("--ro-bind", top, top)
    for name in ETC_FILES + (("resolv.conf",) if network else ()):
        path = os.path.join("/etc", name)
        if os.path.exists(path):
            cmd.add("--ro-bind", path, path)
    for path in SYSTEM_CACHES:
        if os.path.isdir(path):
            cmd.add("--ro-bind", path, path)
    passwd, group = _stub_accounts(scratch, uid)
    cmd.add("--ro-bind", passwd, "/etc/passwd")
    cmd.add("--ro-bind", group, "/etc/group")
    cmd.add("--dev", None, "/dev")
    tmpfs = ("--perms", "1777", "--size", str(limits.scratch_mb << 20))
    cmd.add("--tmpfs", None, "/dev/shm", *tmpfs)
    cmd.add("--proc", None, "/proc")
    for path in _python_dirs(env):
        cmd.add("--ro-bind", path, path)
    if registry_root is not None:
        for part in READABLE_REGISTRY_PARTS:
            path = os.path.join(os.path.abspath(registry_root), part)
            if os.path.isdir(path):
                cmd.add("--ro-bind", path, path)
    # The scratch: a size-limited tmpfs, the host's tree of it inside (files read-only).
    cmd.add("--tmpfs", None, scratch, *tmpfs)
    for top, dirs, files in os.walk(scratch):
        dirs[:] = sorted(d for d in dirs if d != ".sandbox-etc")
        for d in dirs:
            cmd.add("--dir", None, os.path.join(top, d), "--perms", "0777")
        for name in sorted(files):
            path = os.path.join(top, name)
            if path not in outputs:
                cmd.add("--ro-bind", path, path)
    for path in writable:
        cmd.add("--bind", os.path.abspath(path), os.path.abspath(path))
    for path in outputs:
        if as_root:
            os.chown(path, uid, uid)  # writable by the sandbox's user, readable by the host
        os.chmod(path, 0o644)
        cmd.add("--bind", path, path)
    inside = {**allowed_environment(env), "HOME": scratch, "USER": "sandbox", "LOGNAME": "sandbox"}
    inside.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    for key, value in sorted(inside.items()):
        cmd.args += ["--setenv", key, value]
    cmd.args += ["--chdir", cwd or scratch, "--"]
    limits_argv = ["prlimit", f"--nproc={limits.processes}", f"--fsize={limits.file_mb << 20}"]
    if limits.memory_mb is not None:
        limits_argv.append(f"--as={limits.memory_mb << 20}")
    if limits.cpu_seconds is not None:
        limits_argv.append(f"--cpu={limits.cpu_seconds}")
    drop = ([] if not as_root else
            ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
             "--bounding-set=-all", "--no-new-privs", "--"])
    return cmd.args + limits_argv + ["--"] + drop + argv

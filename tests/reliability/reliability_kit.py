"""Helpers of the reliability suite: the registry's invariants, checked with plain git."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import psutil

__all__ = ["git", "tag_commits", "assert_registry_consistent", "seed_registry", "Service", "tree_snapshot"]


# -- the registry's invariants ------------------------------------------------------------------
def git(root: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", os.path.join(root, "store.git"), *args],
                          capture_output=True, text=True, check=check)


def tag_commits(root: str) -> dict[tuple[str, str], str]:
    """``{(name, version): commit}`` for every version tag, read with plain git."""
    out = git(root, "for-each-ref", "--format=%(refname) %(objectname)", "refs/tags").stdout
    tags = {}
    for line in out.splitlines():
        ref, sha = line.split()
        name, _, version = ref[len("refs/tags/"):].partition("/v")
        tags[(name, version)] = sha
    return tags


def _index_files(root: str) -> dict[str, bytes]:
    d = os.path.join(root, "index")
    out = {}
    for name in sorted(os.listdir(d)):
        if name.endswith(".json") and not name.startswith("."):
            with open(os.path.join(d, name), "rb") as f:
                out[name] = f.read()
    return out


def assert_registry_consistent(root: str, scratch: str, checked: dict | None = None) -> dict[tuple[str, str], str]:
    """Assert every invariant a crash or a race could break; return the tags.

    A reader is asked first, as any user would: it must see every version whose index is
    written, and write nothing. Then the next writer settles a journal left by a dead writer, and:
    no journal is left; every tag's tree is exactly ``notebook.ipynb`` + ``gilgamesh.json``
    whose sha256, name and version match; every tag is in its API's branch history; ``git fsck
    --strict`` is clean; the index files equal an index rebuilt from the tags alone (in a copy);
    every version's content blob is present and verified; no git ref lock is left behind.
    Tags in ``checked`` (an earlier answer) that still point at the same commit are not read
    again: git objects are immutable and ``fsck`` covers them.
    """
    from gilgamesh.registry.store.reader import LocalReader
    from gilgamesh.registry.store.git_store import Store

    from gilgamesh.registry.store.git_store import writer_lock

    reader = LocalReader(root)
    journal = os.path.join(root, "journal.json")
    had_journal = os.path.exists(journal)
    for name in reader.names():
        reader.api_index(name)
    assert os.path.exists(journal) == had_journal, "a read settled the journal: reads never write"
    with writer_lock(root):
        Store(root).settle()
    assert not os.path.exists(journal), "a journal was left unsettled"
    tags = tag_commits(root)
    git_dir = os.path.join(root, "store.git")
    locks = [os.path.join(d, n) for d, _, files in os.walk(git_dir) for n in files if n.endswith(".lock")]
    assert not locks, f"git lock files left behind: {locks}"
    for (name, version), commit in tags.items():
        if checked and checked.get((name, version)) == commit:
            continue
        listing = git(root, "ls-tree", "--name-only", commit).stdout.split()
        assert sorted(listing) == ["gilgamesh.json", "notebook.ipynb"], (name, version, listing)
        meta = json.loads(git(root, "show", f"{commit}:gilgamesh.json").stdout)
        notebook = subprocess.run(["git", "-C", os.path.join(root, "store.git"), "show", f"{commit}:notebook.ipynb"],
                                  capture_output=True, check=True).stdout
        assert (meta["name"], meta["version"]) == (name, version)
        assert hashlib.sha256(notebook).hexdigest() == meta["sha256"], f"{name}@{version}: content does not match its sha256"
        branch = f"refs/heads/api/{name}"
        ancestor = git(root, "merge-base", "--is-ancestor", commit, branch, check=False)
        assert ancestor.returncode == 0, f"{name}@{version} is not in the history of {branch}"
        assert reader.notebook_bytes(name, version) == notebook  # blob present, sha256 verified
    fsck = git(root, "fsck", "--strict", "--no-progress", check=False)
    assert fsck.returncode == 0 and "missing" not in fsck.stdout + fsck.stderr, fsck.stdout + fsck.stderr

    copy = os.path.join(scratch, "rebuilt")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy)
    shutil.rmtree(os.path.join(copy, "index"))
    os.makedirs(os.path.join(copy, "index"))
    Store(copy).rebuild_index()
    assert _index_files(root) == _index_files(copy), "the index differs from the one rebuilt from the tags"
    shutil.rmtree(copy)
    listed = {(n, v) for n in reader.names() for v in reader.api_index(n)["versions"]}
    assert listed == set(tags)
    return tags


_DEBUG_SERVE = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.DEBUG, format='%(asctime)s %(name)s %(levelname)s %(message)s')\n"
    "from gilgamesh.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)
# Options `gilgamesh serve` has no flag for (validate=False), given to `serve` itself.
_OPTIONS_SERVE = (
    "import json, sys\n"
    "from gilgamesh.service.app import serve\n"
    "serve('127.0.0.1', 0, sys.argv[1], **json.loads(sys.argv[2]))\n"
)


def seed_registry(root: str) -> str:
    """A registry at ``root`` with ``corpus.SEED_APIS`` published (validated); a publish token of alice's."""
    from corpus import SEED_APIS

    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry
    from gilgamesh.registry.store.tokens import create_token

    init_registry(root)
    for data in SEED_APIS.values():
        publish(root, data, publisher="seed")
    return create_token(root, "alice")


# -- a real service ---------------------------------------------------------------------------------
class Service:
    """``python -m gilgamesh serve --port 0`` as a subprocess; its log goes to ``log_path``.

    ``options`` (ServiceOptions by name, instead of ``args``) are for those the command has no flag for.
    """

    def __init__(self, root: str, log_path: str, *args: str, env: dict | None = None, debug_log: bool = False,
                 options: dict | None = None):
        self.root, self.log_path = root, log_path
        self._log = open(log_path, "ab")
        serve = ["serve", "--registry", root, "--port", "0", *args]
        if options:
            assert not args and not debug_log, "options replace the command line"
            command = [sys.executable, "-c", _OPTIONS_SERVE, root, json.dumps(options)]
        elif debug_log:
            # Configured before `serve` configures logging (which is then a no-op): every debug
            # line of every logger, as an operator chasing a problem would run it.
            command = [sys.executable, "-c", _DEBUG_SERVE, *serve]
        else:
            command = [sys.executable, "-m", "gilgamesh", *serve]
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )
        line = self.proc.stdout.readline().decode()  # printed once the port is bound
        match = re.search(r"(http://\S+?)/? ", line)
        if not match:
            self.stop()
            raise RuntimeError(f"the service did not start: {line!r}\n{self.log()}")
        self.url = match.group(1).rstrip("/")

    def log(self) -> str:
        self._log.flush()
        with open(self.log_path, "rb") as fh:
            return fh.read().decode(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def descendants(self) -> list:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        """SIGTERM (a clean stop), then SIGKILL of the whole group if it lingers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc.stdout.close()
        self._log.close()


def tree_snapshot(root: str) -> dict[str, str]:
    """sha256 of every file under ``root``: what "nothing written" means.

    Two things are left out: the writer lock, and the validation cache, a content-keyed record
    of passing validation runs that a refused publish may add to (validation runs even when other
    checks fail, so that one report names every problem); it is not registry data.
    """
    out = {}
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, root)
            if rel == "write.lock" or rel.startswith("validation-cache" + os.sep):
                continue
            with open(path, "rb") as fh:
                out[rel] = hashlib.sha256(fh.read()).hexdigest()
    return out

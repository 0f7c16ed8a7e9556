"""Helpers shared by the top-level tests: the CLI as a real subprocess, registry state snapshots.

(Not in conftest.py: several conftest modules exist, so ``from conftest import`` is ambiguous.)
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys


def run_cli(*args, env=None, input=None, timeout=300, cwd=None) -> subprocess.CompletedProcess:
    """Run ``python -m gilgamesh ARGS`` as a real subprocess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "gilgamesh", *map(str, args)],
        capture_output=True, text=True, env=full_env, input=input, timeout=timeout, cwd=cwd,
    )


def update_settings(root: str, **changes) -> str:
    """Change settings of the registry at ``root`` (its ``settings.json``); returns the file's path."""
    path = os.path.join(root, "settings.json")
    with open(path) as f:
        settings = json.load(f)
    settings.update(changes)
    with open(path, "w") as f:
        json.dump(settings, f)
    return path


def unsandboxed(root: str) -> str:
    """Let the registry at ``root`` run notebook code unconfined (tests whose gate files live in
    their tmp_path, which a contained kernel or worker cannot see by design); returns ``root``."""
    update_settings(root, sandbox=False, require_sandbox=False)
    return root


def registry_state(root: str) -> dict:
    """Everything a write could change: refs, index files, blobs, and the journal."""
    refs = subprocess.run(
        ["git", "-C", os.path.join(root, "store.git"), "for-each-ref", "--format=%(refname) %(objectname)"],
        capture_output=True, text=True, check=True,
    ).stdout
    files = {}
    for sub in ("index", "blobs"):
        d = os.path.join(root, sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as f:
                files[f"{sub}/{name}"] = hashlib.sha256(f.read()).hexdigest()
    return {"refs": refs, "files": files, "journal": os.path.exists(os.path.join(root, "journal.json"))}


def assert_envelope(status: int, content_type: str, body: bytes, *fragments: str) -> dict:
    """The one error envelope of the service (README, Over HTTP), answered with HTTP ``status``.

    ``{"error": {"status", "message", "details"}}`` and nothing else, as JSON, its status the
    answer's; every fragment is named in the message or the details. Returns the inner object.
    """
    assert content_type.startswith("application/json"), (content_type, body[:300])
    envelope = json.loads(body)
    assert isinstance(envelope, dict) and set(envelope) == {"error"}, envelope
    error = envelope["error"]
    assert isinstance(error, dict) and set(error) == {"status", "message", "details"}, error
    assert error["status"] == status, (error["status"], status)
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["details"], list), error
    named = error["message"] + json.dumps(error["details"])
    for fragment in fragments:
        assert fragment in named, (fragment, error)
    return error


# Debian's Chromium, as every browser test drives it (headless, no sandbox inside the test sandbox,
# nothing fetched from the network on its own account).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

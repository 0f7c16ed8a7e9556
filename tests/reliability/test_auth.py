"""Authentication: nobody publishes or yanks without a valid token, and no token ever leaks.

Publish, yank and unyank are tried with no token, a malformed header, a wrong token, the token
of a removed user (401) and the token of a user the registry's ``publishers`` list leaves out
(403); nothing may be written. Then every response of the test, the service's log (at debug
level, every logger) and the command line's output are searched for any token and any token hash.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

import nbfactory as f
from reliability_kit import Service, tree_snapshot

WRITES = [
    ("POST", "/api/notebooks", f.simple_api("demo", "1.1.0")),
    ("POST", "/api/notebooks/demo/1.0.0/yank", b'{"reason": "broken"}'),
    ("DELETE", "/api/notebooks/demo/1.0.0/yank", None),
]


@pytest.fixture
def auth_setup(tmp_path, private_cache):
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.files import atomic_write
    from gilgamesh.registry.store.git_store import init_registry
    from gilgamesh.registry.store.tokens import create_token, remove_user

    root = str(tmp_path / "registry")
    init_registry(root)
    publish(root, f.simple_api("demo", "1.0.0"), validate=False)
    tokens = {user: create_token(root, user) for user in ("alice", "bob", "carol")}
    with open(os.path.join(root, "settings.json"), "rb") as fh:
        settings = json.loads(fh.read())
    settings["publishers"] = ["alice", "bob"]  # carol holds a token but may not publish
    atomic_write(os.path.join(root, "settings.json"), json.dumps(settings).encode())
    with open(os.path.join(root, "tokens.json"), "rb") as fh:
        hashes = [t["sha256"] for u in json.loads(fh.read())["users"].values() for t in u["tokens"]]
    remove_user(root, "bob")
    service = Service(root, str(tmp_path / "service.log"), debug_log=True)
    try:
        yield service, tokens, hashes
    finally:
        service.stop()


def _secrets(tokens: dict, hashes: list[str], wrong: str) -> list[str]:
    return [*tokens.values(), *hashes, wrong]


def test_writes_need_a_valid_token_of_a_publisher_and_nothing_leaks(auth_setup, tmp_path, figures):
    service, tokens, hashes = auth_setup
    url, root = service.url, service.root
    wrong = "ggm_" + "x" * 43
    attempts = [
        ("no token", {}, 401),
        ("empty bearer", {"Authorization": "Bearer "}, 401),
        ("basic scheme", {"Authorization": "Basic " + tokens["alice"]}, 401),
        ("wrong token", {"Authorization": f"Bearer {wrong}"}, 401),
        ("token with a suffix", {"Authorization": f"Bearer {tokens['alice']}x"}, 401),
        ("removed user", {"Authorization": f"Bearer {tokens['bob']}"}, 401),
        ("not a publisher", {"Authorization": f"Bearer {tokens['carol']}"}, 403),
    ]
    responses = []
    before = tree_snapshot(root)
    failures = []
    for label, headers, status in attempts:
        for method, path, body in WRITES:
            r = requests.request(method, url + path, data=body, headers=headers, timeout=120)
            responses.append(r)
            if r.status_code != status:
                failures.append(f"{label}: {method} {path} answered {r.status_code}: {r.text[:200]}")
                continue
            message = r.json()["error"]["message"]
            if status == 401 and "token" not in message:
                failures.append(f"{label}: the 401 does not say a token is missing or unknown: {message!r}")
            if status == 403 and "carol" not in message:
                failures.append(f"{label}: the 403 does not name the user: {message!r}")
    assert not failures, "\n".join(failures)
    assert tree_snapshot(root) == before, "a refused write changed the registry"

    # The same writes with alice's token go through: the refusals above were about the token.
    ok = requests.post(url + "/api/notebooks", data=WRITES[0][2], timeout=300,
                       headers={"Authorization": f"Bearer {tokens['alice']}"})
    yank = requests.post(url + "/api/notebooks/demo/1.0.0/yank", data=WRITES[1][2], timeout=60,
                         headers={"Authorization": f"Bearer {tokens['alice']}"})
    unyank = requests.delete(url + "/api/notebooks/demo/1.0.0/yank", timeout=60,
                             headers={"Authorization": f"Bearer {tokens['alice']}"})
    assert (ok.status_code, yank.status_code, unyank.status_code) == (201, 200, 200), (ok.text, yank.text)
    responses += [ok, yank, unyank]

    # A browser sign-in with the token: the answer must not echo it either.
    for token in (tokens["alice"], wrong):
        responses.append(requests.post(url + "/login", data={"token": token}, allow_redirects=False, timeout=30))

    # The command line against the service, with a wrong and a revoked token.
    cli_outputs = []
    nb = tmp_path / "demo-1.2.0.ipynb"
    nb.write_bytes(f.simple_api("demo", "1.2.0"))
    for token in (wrong, tokens["bob"]):
        out = subprocess.run([sys.executable, "-m", "gilgamesh", "publish", str(nb), "--registry", url],
                             capture_output=True, text=True, timeout=300, env={**os.environ, "GILGAMESH_TOKEN": token})
        assert out.returncode == 1 and "token" in out.stderr, out.stderr
        cli_outputs.append(out.stdout + out.stderr)
        out = subprocess.run([sys.executable, "-m", "gilgamesh", "yank", "demo@1.0.0", "--reason", "r", "--registry", url],
                             capture_output=True, text=True, timeout=60, env={**os.environ, "GILGAMESH_TOKEN": token})
        assert out.returncode == 1 and "token" in out.stderr, out.stderr
        cli_outputs.append(out.stdout + out.stderr)

    texts = [json.dumps(dict(r.headers)) + r.text for r in responses] + cli_outputs + [service.log()]
    leaks = [(secret[:10] + "...", i) for secret in _secrets(tokens, hashes, wrong) for i, t in enumerate(texts) if secret in t]
    assert not leaks, f"a token or token hash appears in a response, CLI output or the log: {leaks}"
    assert len(service.log().splitlines()) > 20  # the log was captured, at debug level
    figures("unauthorized writes refused (401/403), nothing written", len(attempts) * len(WRITES) + 4)
    figures("responses, CLI outputs and log lines searched for tokens and hashes: leaks", 0)

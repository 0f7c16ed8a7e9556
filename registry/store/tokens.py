"""Publish tokens: created once, shown once, stored only as their sha256.

Tokens are 32 random bytes, so a plain sha256 is a sufficient one-way hash (no password-style
stretching is needed); lookups compare digests in constant time.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import os
import secrets

from gilgamesh.errors import NotFound, UsageError

from gilgamesh.registry.store.layout import Layout

__all__ = ["create_token", "verify_token", "remove_user", "list_users", "TOKEN_PREFIX"]

TOKEN_PREFIX = "ggm_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _load(root: str) -> dict:
    try:
        with open(Layout(root).tokens_file, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return {"users": {}}


def _save(root: str, data: dict) -> None:
    from gilgamesh.files import atomic_write

    path = Layout(root).tokens_file
    atomic_write(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode(), mode=0o600)


def _check_user(user: str) -> str:
    if not isinstance(user, str) or not user or len(user) > 64 or not all(c.isalnum() or c in "._-@" for c in user):
        raise UsageError(f"Invalid user name: {user!r} (letters, digits and . _ - @, at most 64)")
    return user


def create_token(root: str, user: str) -> str:
    """Create a new token for ``user`` (users may hold several) and return it; only its hash is kept."""
    from gilgamesh.registry.store.git_store import writer_lock

    _check_user(user)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with writer_lock(root):
        data = _load(root)
        entry = data["users"].setdefault(user, {"tokens": []})
        entry["tokens"].append({
            "sha256": _digest(token),
            "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        })
        _save(root, data)
    return token


def verify_token(root: str, token: str | None) -> str | None:
    """The user a token belongs to, or None."""
    if not token:
        return None
    digest = _digest(token)
    found = None
    for user, entry in _load(root)["users"].items():
        for t in entry.get("tokens", []):
            if hmac.compare_digest(t["sha256"], digest):
                found = user
    return found


def remove_user(root: str, user: str) -> int:
    """Remove ``user`` and every token of theirs; return how many tokens were revoked."""
    from gilgamesh.registry.store.git_store import writer_lock

    with writer_lock(root):
        data = _load(root)
        if user not in data["users"]:
            raise NotFound(f"no user {user!r} holds a token")
        n = len(data["users"].pop(user).get("tokens", []))
        _save(root, data)
    return n


def list_users(root: str) -> dict[str, int]:
    """``{user: number of tokens}``."""
    return {u: len(e.get("tokens", [])) for u, e in sorted(_load(root)["users"].items())}

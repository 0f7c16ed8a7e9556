"""What a publisher signs and what a log leaf holds: statements and entries, in canonical bytes.

A **statement** says one thing about one API: a version released (or ``adopted``: a version
published before the log existed, entered afterwards), yanked or deprecated, with the sha256 of
every file of that version, so the signature covers the exact bytes; or a key granted or revoked
on the API. Each statement names the entry it follows (``previous``: the hex
:func:`entry_hash` of the API's previous log entry, empty for its first), so an API's history is a
hash chain a reader can follow without the rest of the log.

An **entry** is a statement, its SSH signature (:mod:`.keys`, namespace ``gilgamesh``) and the
signer's public key line; its canonical bytes are one leaf of the Merkle log (:mod:`.merkle`), and
:func:`entry_hash` is that leaf's hash.

Canonical means UTF-8 JSON with sorted keys and no whitespace; the parsers accept nothing else
(unknown kinds, missing or extra fields, bytes that are not the canonical form), so one statement
has exactly one byte string and its signature cannot be read two ways.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from gilgamesh.errors import GilgameshError, TrustError
from gilgamesh.versions import Version, check_name

__all__ = ["FORMAT", "KINDS", "Statement", "Entry", "canonical", "parse_statement", "parse_entry", "entry_hash"]

FORMAT = 1  # the "v" of every statement
_COMMON = {"v", "kind", "name", "previous"}
# The fields of each kind beyond the common ones, and their types.
KINDS: Mapping[str, Mapping[str, type]] = MappingProxyType({
    "release": {"version": str, "files": Mapping},
    "adopted": {"version": str, "files": Mapping},
    "yank": {"version": str, "files": Mapping, "reason": str},
    "deprecation": {"version": str, "files": Mapping, "message": str},
    "grant": {"key": str, "admin": bool},  # name is the API the key may publish (admin: and grant)
    "revocation": {"key": str},
})
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


def canonical(value: Any) -> bytes:
    """UTF-8 JSON, keys sorted, no whitespace: the one byte string of ``value``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _loads(data: bytes, what: str) -> Any:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise TrustError(f"{what}: not UTF-8 JSON") from None
    try:
        again = canonical(value)
    except ValueError:
        raise TrustError(f"{what}: not canonical JSON") from None
    if again != data:
        raise TrustError(f"{what}: not in canonical form (sorted keys, no whitespace, UTF-8)")
    return value


def _check_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or "\x00" in path or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise TrustError(f"statement: {path!r} is not a relative file path")


@dataclass(frozen=True, eq=False)
class Statement:
    """One signed claim about an API. ``fields`` holds the kind's own fields (:data:`KINDS`)."""

    kind: str
    name: str
    previous: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        schema = KINDS.get(self.kind)
        if schema is None:
            raise TrustError(f"statement: unknown kind {self.kind!r} (one of {', '.join(KINDS)})")
        try:
            check_name(self.name)
        except GilgameshError as e:
            raise TrustError(f"statement: {e.message}") from None
        if not isinstance(self.previous, str) or (self.previous and not _HEX64.match(self.previous)):
            raise TrustError("statement: previous must be an entry hash (64 lowercase hex) or empty")
        missing = sorted(set(schema) - set(self.fields))
        extra = sorted(set(self.fields) - set(schema))
        if missing or extra:
            raise TrustError(f"statement ({self.kind}): " + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(extra)}"] if extra else [])))
        for key, kind in schema.items():
            value = self.fields[key]
            if not (isinstance(value, Mapping) if kind is Mapping else type(value) is kind):  # True is no str
                raise TrustError(f"statement ({self.kind}): {key} must be a {kind.__name__}")
        if "version" in schema:
            try:
                Version(self.fields["version"])
            except GilgameshError as e:
                raise TrustError(f"statement: {e.message}") from None
            files = self.fields["files"]
            if not files:
                raise TrustError("statement: files must name every file of the version")
            for path, digest in files.items():
                _check_path(path)
                if not isinstance(digest, str) or not _HEX64.match(digest):
                    raise TrustError(f"statement: the sha256 of {path!r} must be 64 lowercase hex")
        if "key" in schema:
            from gilgamesh.trust.keys import parse_public_key

            parse_public_key(self.fields["key"])  # TrustError if it is not an ssh-ed25519 line
        frozen = {k: MappingProxyType(dict(v)) if isinstance(v, Mapping) else v for k, v in self.fields.items()}
        object.__setattr__(self, "fields", MappingProxyType(frozen))

    @property
    def version(self) -> str | None:
        return self.fields.get("version")

    @property
    def files(self) -> Mapping[str, str]:
        return self.fields.get("files", {})

    def to_dict(self) -> dict:
        fields = {k: dict(v) if isinstance(v, Mapping) else v for k, v in self.fields.items()}
        return {"v": FORMAT, "kind": self.kind, "name": self.name, "previous": self.previous, **fields}

    def to_bytes(self) -> bytes:
        """The canonical bytes: what is signed."""
        return canonical(self.to_dict())

    def __eq__(self, other) -> bool:
        return isinstance(other, Statement) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())


def _statement_from(value: Any, what: str) -> Statement:
    if not isinstance(value, dict):
        raise TrustError(f"{what}: not a JSON object")
    missing = sorted(_COMMON - set(value))
    if missing:
        raise TrustError(f"{what}: missing {', '.join(missing)}")
    if value["v"] != FORMAT or type(value["v"]) is not int:
        raise TrustError(f"{what}: format {value['v']!r}, this Gilgamesh reads {FORMAT}")
    if not isinstance(value["kind"], str) or not isinstance(value["name"], str):
        raise TrustError(f"{what}: kind and name must be strings")
    fields = {k: v for k, v in value.items() if k not in _COMMON}
    return Statement(value["kind"], value["name"], value["previous"], fields)


def parse_statement(data: bytes) -> Statement:
    """The statement of these canonical bytes; :class:`TrustError` for anything else."""
    return _statement_from(_loads(data, "statement"), "statement")


@dataclass(frozen=True)
class Entry:
    """A log entry: the statement, the armored SSH signature of its bytes, and the signer's public
    key line (comment dropped: the key is the identity)."""

    statement: Statement
    signature: str
    signer: str

    def to_bytes(self) -> bytes:
        """``{"signature", "signer", "statement"}`` canonical: one leaf of the log."""
        return canonical({"statement": self.statement.to_dict(), "signature": self.signature, "signer": self.signer})

    @property
    def hash(self) -> str:
        return entry_hash(self.to_bytes())

    @classmethod
    def sign(cls, statement: Statement, key) -> "Entry":
        """The entry of ``statement`` signed by ``key`` (a :class:`~.keys.SigningKey`)."""
        from gilgamesh.trust.keys import PublicKey

        signer = PublicKey(key.public.raw).line  # without the comment
        return cls(statement, key.sign(statement.to_bytes()), signer)

    def verify(self):
        """Check the signature against the signer key the entry names; that key
        (:class:`~.keys.PublicKey`). Whether that key may sign for the API is the grants' question,
        not this one's."""
        from gilgamesh.trust.keys import parse_public_key, verify

        return verify(self.statement.to_bytes(), self.signature, parse_public_key(self.signer))


def parse_entry(data: bytes) -> Entry:
    """The entry of these canonical bytes (a log leaf); :class:`TrustError` for anything else.
    The signature is not checked here: :meth:`Entry.verify`."""
    value = _loads(data, "log entry")
    if not isinstance(value, dict) or set(value) != {"statement", "signature", "signer"}:
        raise TrustError("log entry: expected exactly statement, signature and signer")
    if not isinstance(value["signature"], str) or not isinstance(value["signer"], str):
        raise TrustError("log entry: signature and signer must be strings")
    from gilgamesh.trust.keys import parse_public_key

    key = parse_public_key(value["signer"])
    if key.comment:
        raise TrustError("log entry: the signer is a key line without a comment")
    return Entry(_statement_from(value["statement"], "log entry's statement"), value["signature"], value["signer"])


def entry_hash(data: bytes) -> str:
    """The hex hash of an entry's canonical bytes: its Merkle leaf hash (:func:`.merkle.leaf_hash`),
    which the next statement of the API names as ``previous``."""
    from gilgamesh.trust.merkle import leaf_hash

    return leaf_hash(data).hex()

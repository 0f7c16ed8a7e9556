"""Signed notes (C2SP signed-note) and the checkpoint a log signs (C2SP tlog-checkpoint).

A checkpoint says "the log named ORIGIN has SIZE entries and this Merkle tree head"; signed, it is
what a client keeps and what later proofs are checked against (:mod:`.merkle`). The format is the
one Go's checksum database and the transparency-log ecosystem share, so its witnesses and tools
can read Gilgamesh's checkpoints: a note is UTF-8 text ending in a newline, a blank line, then one
line a signature::

    — NAME BASE64(4-byte key hash || Ed25519 signature of the text)

Keys are ``NAME+HASH+BASE64(0x01 || public key)`` (a verifier) and
``PRIVATE+KEY+NAME+HASH+BASE64(0x01 || seed)`` (a signer), HASH the first four bytes of
SHA-256(NAME || "\\n" || 0x01 || public key) in hex. A cosignature is one more signature line on
the same text (:func:`cosign`): a witness that has checked the log's signature adds its own.
(C2SP's timestamped cosignature key type, 0x04, is not implemented: only Ed25519, type 0x01.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from gilgamesh.errors import TrustError, VerificationFailed

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Verifier",
    "Signer",
    "Signature",
    "Note",
    "Checkpoint",
    "key_hash",
    "generate_key",
    "parse_verifier",
    "parse_signer",
    "sign",
    "open_note",
    "cosign",
    "parse_checkpoint",
    "sign_checkpoint",
    "open_checkpoint",
]

ALG_ED25519 = 1
MAX_SIGNATURES = 100  # as Go's note.Open: a note with more is refused, not parsed forever
_DASH = "\u2014 "  # EM DASH, space: the start of a signature line


def _check_name(name: str) -> str:
    """A key name: non-empty, no whitespace (Unicode's included) and no ``+``."""
    if not isinstance(name, str) or not name or "+" in name or any(c.isspace() for c in name):
        raise TrustError(f"invalid key name {name!r}: it must be non-empty, without spaces or '+'")
    return name


def key_hash(name: str, public_key: bytes) -> int:
    """The 32-bit hash naming a key: SHA-256(name || "\\n" || 0x01 || public key), first 4 bytes."""
    return int.from_bytes(hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4], "big")


def _b64decode(text: str, what: str) -> bytes:
    """Standard base64, padded and canonical: one encoding of each value, so a note cannot be
    changed without changing what it says."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise TrustError(f"{what}: not base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise TrustError(f"{what}: not base64 in its canonical form")
    return raw


@dataclass(frozen=True)
class Verifier:
    """One Ed25519 public key under a name: checks signatures on notes."""

    name: str
    public_key: bytes  # the 32 raw bytes

    def __post_init__(self):
        _check_name(self.name)
        if len(self.public_key) != 32:
            raise TrustError(f"an Ed25519 public key is 32 bytes, not {len(self.public_key)}")

    @property
    def key_hash(self) -> int:
        return key_hash(self.name, self.public_key)

    @property
    def encoded(self) -> str:
        """``NAME+HASH+BASE64(0x01 || key)``."""
        key = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_hash:08x}+{key}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
            return True
        except (InvalidSignature, ValueError):
            return False


@dataclass(frozen=True)
class Signer:
    """One Ed25519 private key (its 32-byte seed) under a name: signs notes. Keep it secret."""

    name: str
    seed: bytes = field(repr=False)

    def __post_init__(self):
        _check_name(self.name)
        if len(self.seed) != 32:
            raise TrustError(f"an Ed25519 seed is 32 bytes, not {len(self.seed)}")

    @cached_property
    def verifier(self) -> Verifier:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return Verifier(self.name, public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    @property
    def key_hash(self) -> int:
        return self.verifier.key_hash

    @property
    def encoded(self) -> str:
        """``PRIVATE+KEY+NAME+HASH+BASE64(0x01 || seed)``."""
        key = base64.b64encode(bytes([ALG_ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_hash:08x}+{key}"

    def sign(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)


def generate_key(name: str) -> tuple[Signer, Verifier]:
    """A new key pair under ``name``."""
    seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    signer = Signer(name, seed)
    return signer, signer.verifier


def _parse_key(text: str, what: str) -> tuple[str, int, bytes]:
    """NAME+HASH+KEY, split on the first two '+' only (base64 holds '+'): (name, hash, raw key)."""
    name, _, rest = text.partition("+")
    hash16, _, key64 = rest.partition("+")
    if len(hash16) != 8 or any(c not in "0123456789abcdefABCDEF" for c in hash16) or not key64:
        raise TrustError(f"malformed {what} {text!r}: expected NAME+HASH+KEY, HASH 8 hex digits")
    _check_name(name)
    key = _b64decode(key64, what)
    if len(key) != 33 or key[0] != ALG_ED25519:
        raise TrustError(f"{what} for {name!r}: not an Ed25519 key (algorithm 1, 32 bytes)")
    return name, int(hash16, 16), key[1:]


def parse_verifier(vkey: str) -> Verifier:
    """A verifier key (``NAME+HASH+BASE64``); its hash must be the key's."""
    name, h, key = _parse_key(vkey.strip(), "verifier key")
    verifier = Verifier(name, key)
    if verifier.key_hash != h:
        raise TrustError(f"verifier key for {name!r}: the hash {h:08x} is not the key's ({verifier.key_hash:08x})")
    return verifier


def parse_signer(skey: str) -> Signer:
    """A signer key (``PRIVATE+KEY+NAME+HASH+BASE64``); its hash must be its public key's."""
    skey = skey.strip()
    if not skey.startswith("PRIVATE+KEY+"):
        raise TrustError("malformed signer key: it must start with PRIVATE+KEY+")
    name, h, seed = _parse_key(skey[len("PRIVATE+KEY+"):], "signer key")
    signer = Signer(name, seed)
    if signer.key_hash != h:
        raise TrustError(f"signer key for {name!r}: the hash {h:08x} is not its public key's ({signer.key_hash:08x})")
    return signer


# -- notes ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Signature:
    """One signature line of a note: who (name, key hash) and the base64 as it was written."""

    name: str
    key_hash: int
    base64: str

    @property
    def line(self) -> str:
        return f"{_DASH}{self.name} {self.base64}\n"


@dataclass(frozen=True)
class Note:
    """An opened note: its text, the signatures known keys verified, and the others (unknown keys),
    kept so that a cosigned note passes them on."""

    text: str
    signatures: tuple[Signature, ...] = ()
    unverified: tuple[Signature, ...] = ()

    @property
    def signers(self) -> frozenset[str]:
        """The names whose signatures verified."""
        return frozenset(s.name for s in self.signatures)


def _check_text(text: str, what: str) -> None:
    if not text.endswith("\n"):
        raise TrustError(f"malformed {what}: the text must end with a newline")
    if any(c < " " and c != "\n" for c in text):
        raise TrustError(f"malformed {what}: a control character other than newline")


def _signature_line(signer: Signer, text: bytes) -> Signature:
    raw = signer.key_hash.to_bytes(4, "big") + signer.sign(text)
    return Signature(signer.name, signer.key_hash, base64.b64encode(raw).decode())


def sign(text: str, signers: Iterable[Signer], existing: Iterable[Signature] = ()) -> bytes:
    """The signed note of ``text`` (ending in a newline): the ``existing`` signatures (those of
    the signers' own keys left out, since they sign again), then one line a signer."""
    _check_text(text, "note")
    body = text.encode("utf-8")
    new = [_signature_line(s, body) for s in signers]
    if not new:
        raise TrustError("a note needs at least one signer")
    mine = {(s.name, s.key_hash) for s in new}
    kept = [s for s in existing if (s.name, s.key_hash) not in mine]
    return body + b"\n" + "".join(s.line for s in kept + new).encode("utf-8")


def _split_note(message: bytes) -> tuple[str, list[tuple[Signature, bytes]]]:
    """The text and each signature line (with its raw signature) of a note, or TrustError."""
    try:
        decoded = message.decode("utf-8")
    except UnicodeDecodeError:
        raise TrustError("malformed note: not UTF-8") from None
    if any(c < " " and c != "\n" for c in decoded):
        raise TrustError("malformed note: a control character other than newline")
    split = decoded.rfind("\n\n")
    if split < 0:
        raise TrustError("malformed note: no blank line before the signatures")
    text, block = decoded[:split + 1], decoded[split + 2:]
    if not block.endswith("\n"):
        raise TrustError("malformed note: no signature lines, or the last does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise TrustError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    out = []
    for line in lines:
        name, space, b64 = line[len(_DASH):].partition(" ") if line.startswith(_DASH) else ("", "", "")
        if not space or not b64 or not name or "+" in name or any(c.isspace() for c in name):
            raise TrustError(f"malformed note: a signature line must be '{_DASH}NAME BASE64': {line!r}")
        raw = _b64decode(b64, f"signature of {name!r}")
        if len(raw) < 5:
            raise TrustError(f"malformed note: the signature of {name!r} is too short")
        out.append((Signature(name, int.from_bytes(raw[:4], "big"), b64), raw[4:]))
    return text, out


def open_note(message: bytes | str, verifiers: Iterable[Verifier]) -> Note:
    """Parse a signed note and check its signatures against the known ``verifiers``.

    A signature by a known key (name and key hash) must verify; signatures by unknown keys are
    kept aside, unchecked; duplicates are dropped. Raises :class:`TrustError` for a malformed note
    and :class:`VerificationFailed` when a known key's signature is wrong or no known key signed.
    """
    if isinstance(message, str):
        message = message.encode("utf-8")
    known: dict[tuple[str, int], Verifier] = {}
    for v in verifiers:
        if known.get((v.name, v.key_hash), v) != v:  # two keys, one name and hash: someone is lying
            raise TrustError(f"two verifier keys are both {v.name}+{v.key_hash:08x}")
        known[(v.name, v.key_hash)] = v
    text, lines = _split_note(message)
    body = text.encode("utf-8")
    verified: dict[tuple[str, int], Signature] = {}
    unverified: dict[str, Signature] = {}
    for sig, raw in lines:
        verifier = known.get((sig.name, sig.key_hash))
        if verifier is None:
            unverified.setdefault(sig.line, sig)
        elif (sig.name, sig.key_hash) not in verified:
            if not verifier.verify(body, raw):
                raise VerificationFailed(f"the signature of {sig.name}+{sig.key_hash:08x} does not verify: "
                                         "the note was changed or another key signed it")
            verified[(sig.name, sig.key_hash)] = sig
    if not verified:
        who = ", ".join(sorted({f"{s.name}+{s.key_hash:08x}" for s in unverified.values()}))
        raise VerificationFailed(f"no known key signed this note (signed by: {who})")
    return Note(text, tuple(verified.values()), tuple(unverified.values()))


def cosign(message: bytes | str, signer: Signer, verifiers: Iterable[Verifier]) -> bytes:
    """``message`` with ``signer``'s signature added, once a known key's signature verified (a
    witness cosigns only what the log signed). Every signature already there is kept."""
    note = open_note(message, verifiers)
    return sign(note.text, [signer], note.signatures + note.unverified)


# -- checkpoints ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Checkpoint:
    """A log's state: its origin (the log's name), how many entries, the Merkle tree head, and
    any extension lines (kept as they are)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.origin or any(c < " " for c in self.origin):
            raise TrustError(f"invalid checkpoint origin {self.origin!r}")
        if not isinstance(self.size, int) or not 0 <= self.size < 1 << 63:
            raise TrustError(f"invalid checkpoint size {self.size!r}")
        if len(self.root) != 32:
            raise TrustError("a checkpoint's root hash is 32 bytes")
        if any(not e or any(c < " " for c in e) for e in self.extensions):
            raise TrustError("a checkpoint extension line must be non-empty, without control characters")

    @property
    def text(self) -> str:
        """The note text: ``origin\\nsize\\nbase64(root)\\n`` then the extension lines."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint a note's text holds (strict: the text must be what :attr:`Checkpoint.text`
    writes)."""
    if not text.endswith("\n"):
        raise TrustError("malformed checkpoint: it must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise TrustError("malformed checkpoint: expected origin, size and root hash lines")
    origin, size, root, *extensions = lines
    if not (size == "0" or (size[:1] in "123456789" and size.isascii() and size.isdigit())):
        raise TrustError(f"malformed checkpoint: the size {size!r} is not a decimal number")
    raw = _b64decode(root, "checkpoint root hash")
    if len(raw) != 32 or base64.b64encode(raw).decode() != root:
        raise TrustError("malformed checkpoint: the root hash is not 32 bytes of base64")
    return Checkpoint(origin, int(size), raw, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signers: Iterable[Signer]) -> bytes:
    """The signed note of ``checkpoint``."""
    return sign(checkpoint.text, signers)


def open_checkpoint(message: bytes | str, log: Verifier, witnesses: Iterable[Verifier] = (),
                    origin: str | None = None) -> tuple[Checkpoint, Note]:
    """Open a signed checkpoint of the log whose key is ``log``: its signature must be there and
    verify (a witness's alone proves nothing about what the log said), and the origin must be
    ``origin`` (the log key's name by default: a checkpoint of another log proves nothing about
    this one). The witnesses' signatures that verified are in the note's ``signers``."""
    note = open_note(message, [log, *witnesses])
    if (log.name, log.key_hash) not in {(s.name, s.key_hash) for s in note.signatures}:
        raise VerificationFailed(f"the checkpoint is not signed by the log's key {log.name}+{log.key_hash:08x}")
    checkpoint = parse_checkpoint(note.text)
    expected = log.name if origin is None else origin
    if checkpoint.origin != expected:
        raise VerificationFailed(f"the checkpoint is of the log {checkpoint.origin!r}, not {expected!r}")
    return checkpoint, note

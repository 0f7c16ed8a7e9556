"""SSH Ed25519 keys and SSH signatures: who signed a release.

A publisher signs with the key they already have, as ``git tag -s`` does with
``gpg.format=ssh``: an OpenSSH Ed25519 private key file, named in grants by its public key line
(``ssh-ed25519 AAAA... comment``) and shown by its fingerprint (``SHA256:...``, as ``ssh-keygen
-l`` prints it). Signatures are OpenSSH's SSHSIG format (PROTOCOL.sshsig: armored, bound to a
namespace, the message hashed with SHA-512), so ``ssh-keygen -Y sign`` and ``ssh-keygen -Y
verify -n gilgamesh`` make and check the same signatures as this module.

Only unencrypted keys are read: a release is signed by a process that cannot ask for a
passphrase (an agent is the way to keep a key encrypted, and is not supported yet).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from dataclasses import dataclass, field
from typing import Iterable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gilgamesh.errors import TrustError, VerificationFailed
from gilgamesh.files import atomic_write

__all__ = [
    "NAMESPACE",
    "PublicKey",
    "SigningKey",
    "create_key",
    "load_key",
    "parse_public_key",
    "sign",
    "verify",
    "signature_key",
]

NAMESPACE = "gilgamesh"  # what every Gilgamesh signature is made for (ssh-keygen -n)
_TYPE = b"ssh-ed25519"
_KEY_MAGIC = b"openssh-key-v1\x00"
_SIG_MAGIC = b"SSHSIG"
_KEY_ARMOR = ("-----BEGIN OPENSSH PRIVATE KEY-----", "-----END OPENSSH PRIVATE KEY-----")
_SIG_ARMOR = ("-----BEGIN SSH SIGNATURE-----", "-----END SSH SIGNATURE-----")
_HASHES = {"sha512": hashlib.sha512, "sha256": hashlib.sha256}  # what ssh-keygen accepts


# -- the SSH wire format (RFC 4251: uint32, string) -----------------------------------------------
def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class _Reader:
    """Reads uint32s and strings from ``data``; running short is :class:`TrustError` (``what``)."""

    def __init__(self, data: bytes, what: str):
        self.data, self.at, self.what = data, 0, what

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise TrustError(f"{self.what}: truncated")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def uint32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def string(self) -> bytes:
        return self.take(self.uint32())

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.at)

    def end(self) -> None:
        if self.at != len(self.data):
            raise TrustError(f"{self.what}: {len(self.data) - self.at} bytes of trailing data")


def _armor(data: bytes, armor: tuple[str, str]) -> str:
    text = base64.b64encode(data).decode()
    lines = [text[i:i + 70] for i in range(0, len(text), 70)]  # ssh-keygen's width
    return "\n".join([armor[0], *lines, armor[1]]) + "\n"


def _unarmor(text: str, armor: tuple[str, str], what: str) -> bytes:
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != armor[0] or lines[-1] != armor[1]:
        raise TrustError(f"{what}: expected {armor[0]} ... {armor[1]}")
    body = "".join(lines[1:-1])
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise TrustError(f"{what}: the armored body is not base64") from None
    if base64.b64encode(data).decode() != body:  # one encoding of each signature
        raise TrustError(f"{what}: the armored body is not canonical base64")
    return data


def _public_blob(raw: bytes) -> bytes:
    return _string(_TYPE) + _string(raw)


def _parse_public_blob(blob: bytes, what: str) -> bytes:
    r = _Reader(blob, what)
    kind = r.string()
    if kind != _TYPE:
        raise TrustError(f"{what}: the key type is {kind.decode('ascii', 'replace')}, not ssh-ed25519")
    raw = r.string()
    r.end()
    if len(raw) != 32:
        raise TrustError(f"{what}: an Ed25519 public key of {len(raw)} bytes, not 32")
    return raw


# -- keys -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key (32 raw bytes). Its comment is not part of it: two lines with the same
    key and other comments are the same key."""

    raw: bytes
    comment: str = field(default="", compare=False)

    @property
    def blob(self) -> bytes:
        """The SSH wire encoding, what the line's base64 holds."""
        return _public_blob(self.raw)

    @property
    def line(self) -> str:
        """``ssh-ed25519 AAAA... comment`` (no comment, no trailing space)."""
        line = f"ssh-ed25519 {base64.b64encode(self.blob).decode()}"
        return f"{line} {self.comment}" if self.comment else line

    @property
    def fingerprint(self) -> str:
        """``SHA256:...``, as ``ssh-keygen -l`` prints it."""
        return "SHA256:" + base64.b64encode(hashlib.sha256(self.blob).digest()).decode().rstrip("=")

    def note_verifier(self, name: str):
        """The same key as a signed-note verifier under ``name`` (:mod:`.note`)."""
        from gilgamesh.trust.note import Verifier

        return Verifier(name, self.raw)

    def __str__(self) -> str:
        return self.fingerprint


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key: its 32-byte seed and the comment its file carries."""

    seed: bytes = field(repr=False)
    comment: str = ""

    def __post_init__(self):
        if len(self.seed) != 32:
            raise TrustError(f"an Ed25519 seed is 32 bytes, not {len(self.seed)}")

    @property
    def public(self) -> PublicKey:
        key = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return PublicKey(raw, self.comment)

    def sign(self, data: bytes, namespace: str = NAMESPACE) -> str:
        """An armored SSH signature of ``data`` for ``namespace`` (as ``ssh-keygen -Y sign``)."""
        return sign(self, data, namespace)

    def note_signer(self, name: str):
        """The same key as a signed-note signer under ``name`` (:mod:`.note`), e.g. for checkpoints."""
        from gilgamesh.trust.note import Signer

        return Signer(name, self.seed)

    def openssh(self) -> bytes:
        """The unencrypted OpenSSH private key file (``openssh-key-v1``, as ``ssh-keygen`` writes)."""
        raw = self.public.raw
        check = os.urandom(4)
        private = (check + check + _string(_TYPE) + _string(raw) + _string(self.seed + raw)
                   + _string(self.comment.encode("utf-8")))
        private += bytes(range(1, 1 + (-len(private) % 8)))  # padding 1, 2, 3... to the block of 8
        body = (_KEY_MAGIC + _string(b"none") + _string(b"none") + _string(b"") + struct.pack(">I", 1)
                + _string(_public_blob(raw)) + _string(private))
        return _armor(body, _KEY_ARMOR).encode()


def create_key(path: str, comment: str = "", *, overwrite: bool = False) -> SigningKey:
    """A new key, written to ``path`` (mode 0600, atomically) as an unencrypted OpenSSH private key.
    An existing file is left alone (:class:`TrustError`) unless ``overwrite``."""
    if "\n" in comment or "\r" in comment:
        raise TrustError("a key comment is one line")
    if not overwrite and os.path.lexists(path):
        raise TrustError(f"{path} exists: not replacing a key")
    seed = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    key = SigningKey(seed, comment)
    try:
        atomic_write(path, key.openssh(), 0o600)
    except OSError as e:
        raise TrustError(f"cannot write the key {path}: {e.strerror or e}") from None
    return key


def load_key(path: str) -> SigningKey:
    """The Ed25519 private key in the file ``path``: OpenSSH's format (or PKCS#8 PEM), unencrypted.
    :class:`TrustError` naming the path when it is missing, unreadable, encrypted, not Ed25519 or
    malformed."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise TrustError(f"no key file {path}") from None
    except OSError as e:
        raise TrustError(f"cannot read the key {path}: {e.strerror or e}") from None
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise TrustError(f"{path} is not a private key file") from None
    if text.lstrip().startswith(_KEY_ARMOR[0]):
        return _parse_openssh(_unarmor(text, _KEY_ARMOR, f"the key {path}"), path)
    if text.lstrip().startswith("ssh-"):
        raise TrustError(f"{path} is a public key: give the private key file")
    return _load_pem(data, path)


def _parse_openssh(body: bytes, path: str) -> SigningKey:
    what = f"the key {path}"
    r = _Reader(body, what)
    if r.take(len(_KEY_MAGIC)) != _KEY_MAGIC:
        raise TrustError(f"{what}: not an openssh-key-v1 file")
    cipher, kdf = r.string(), r.string()
    r.string()  # the KDF's options: none without a KDF
    count = r.uint32()
    if cipher != b"none" or kdf != b"none":
        raise TrustError(f"{what} is encrypted with a passphrase; signing needs an unencrypted key "
                         f"(remove the passphrase of a copy with ssh-keygen -p)")
    if count != 1:
        raise TrustError(f"{what}: holds {count} keys, expected one")
    raw = _parse_public_blob(r.string(), what)
    private = r.string()
    r.end()
    p = _Reader(private, what)
    if p.uint32() != p.uint32():
        raise TrustError(f"{what}: corrupt (its check numbers differ)")
    kind = p.string()
    if kind != _TYPE:
        raise TrustError(f"{what}: the key type is {kind.decode('ascii', 'replace')}, not ssh-ed25519")
    pub, secret = p.string(), p.string()
    comment = p.string()
    padding = p.rest()
    if pub != raw or len(secret) != 64 or secret[32:] != raw or padding != bytes(range(1, 1 + len(padding))):
        raise TrustError(f"{what}: malformed Ed25519 key")
    try:
        key = SigningKey(secret[:32], comment.decode("utf-8"))
    except UnicodeDecodeError:
        raise TrustError(f"{what}: its comment is not UTF-8") from None
    if key.public.raw != raw:
        raise TrustError(f"{what}: the private key does not match its public key")
    return key


def _load_pem(data: bytes, path: str) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise TrustError(f"the key {path} is encrypted with a passphrase; signing needs an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise TrustError(f"{path} is not a private key file (expected an OpenSSH Ed25519 key)") from None
    if not isinstance(key, Ed25519PrivateKey):
        kind = type(key).__name__.removesuffix("PrivateKey").removeprefix("_")
        raise TrustError(f"the key {path} is {kind}, not Ed25519 (ssh-keygen -t ed25519 makes one)")
    return SigningKey(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                        serialization.NoEncryption()))


def parse_public_key(line: str) -> PublicKey:
    """The key of a public key line, ``ssh-ed25519 AAAA... [comment]``; :class:`TrustError` else."""
    parts = line.strip().split(None, 2) if isinstance(line, str) else []
    if len(parts) < 2:
        raise TrustError(f"not a public key line: {line!r} (expected 'ssh-ed25519 AAAA... [comment]')")
    if parts[0] != "ssh-ed25519":
        raise TrustError(f"the key type is {parts[0]}: only ssh-ed25519 keys sign releases")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise TrustError("the public key line's key is not base64") from None
    return PublicKey(_parse_public_blob(blob, "the public key line"), parts[2] if len(parts) > 2 else "")


# -- SSH signatures (PROTOCOL.sshsig) -------------------------------------------------------------
def _signed_data(namespace: bytes, reserved: bytes, hash_name: bytes, data: bytes) -> bytes:
    digest = _HASHES[hash_name.decode()](data).digest()
    return _SIG_MAGIC + _string(namespace) + _string(reserved) + _string(hash_name) + _string(digest)


def sign(key: SigningKey, data: bytes, namespace: str = NAMESPACE) -> str:
    """An armored SSH signature (``-----BEGIN SSH SIGNATURE-----``) of ``data`` by ``key``."""
    if not namespace:
        raise TrustError("an SSH signature needs a namespace")
    ns = namespace.encode("utf-8")
    private = Ed25519PrivateKey.from_private_bytes(key.seed)
    signature = private.sign(_signed_data(ns, b"", b"sha512", data))
    blob = (_SIG_MAGIC + struct.pack(">I", 1) + _string(key.public.blob) + _string(ns) + _string(b"")
            + _string(b"sha512") + _string(_string(_TYPE) + _string(signature)))
    return _armor(blob, _SIG_ARMOR)


def _parse_signature(signature: str | bytes) -> tuple[PublicKey, bytes, bytes, bytes, bytes]:
    """(key, namespace, reserved, hash name, raw Ed25519 signature) of an armored SSH signature."""
    what = "the SSH signature"
    if isinstance(signature, bytes):
        try:
            signature = signature.decode("ascii")
        except UnicodeDecodeError:
            raise TrustError(f"{what}: not ASCII armor") from None
    r = _Reader(_unarmor(signature, _SIG_ARMOR, what), what)
    if r.take(6) != _SIG_MAGIC:
        raise TrustError(f"{what}: not an SSHSIG signature")
    if (version := r.uint32()) != 1:
        raise TrustError(f"{what}: version {version}, expected 1")
    raw = _parse_public_blob(r.string(), f"{what}'s key")
    namespace, reserved, hash_name, sig_blob = r.string(), r.string(), r.string(), r.string()
    r.end()
    if hash_name.decode("ascii", "replace") not in _HASHES:
        raise TrustError(f"{what}: unknown hash {hash_name.decode('ascii', 'replace')!r}")
    s = _Reader(sig_blob, what)
    if s.string() != _TYPE:
        raise TrustError(f"{what}: not an ssh-ed25519 signature")
    raw_sig = s.string()
    s.end()
    if len(raw_sig) != 64:
        raise TrustError(f"{what}: an Ed25519 signature of {len(raw_sig)} bytes, not 64")
    return PublicKey(raw), namespace, reserved, hash_name, raw_sig


def signature_key(signature: str | bytes) -> PublicKey:
    """The key an armored SSH signature says made it (not verified: see :func:`verify`)."""
    return _parse_signature(signature)[0]


def verify(data: bytes, signature: str | bytes, allowed: PublicKey | Iterable[PublicKey],
           namespace: str = NAMESPACE) -> PublicKey:
    """Check that ``signature`` is a valid SSH signature of ``data`` for ``namespace`` by one of the
    ``allowed`` keys; that key. :class:`TrustError` for a malformed signature,
    :class:`VerificationFailed` for one that does not verify, is for another namespace or is by
    another key."""
    key, ns, reserved, hash_name, raw_sig = _parse_signature(signature)
    allowed = [allowed] if isinstance(allowed, PublicKey) else list(allowed)
    if ns != namespace.encode("utf-8"):
        raise VerificationFailed(f"the signature is for the namespace {ns.decode('utf-8', 'replace')!r}, "
                                 f"not {namespace!r}")
    try:
        Ed25519PublicKey.from_public_bytes(key.raw).verify(raw_sig, _signed_data(ns, reserved, hash_name, data))
    except (InvalidSignature, ValueError):
        raise VerificationFailed(f"the signature by {key.fingerprint} does not verify: the data or the "
                                 "signature was changed") from None
    for candidate in allowed:
        if candidate == key:
            return candidate
    raise VerificationFailed(f"signed by {key.fingerprint}, which is not an allowed key")

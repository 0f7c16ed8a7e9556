"""SSH Ed25519 keys and SSHSIG signatures, with OpenSSH's ssh-keygen as the oracle both ways: its
keys load here and ours load there, its signatures verify here and ours verify there."""

from __future__ import annotations

import base64
import os
import re
import shutil
import stat
import subprocess

import pytest

from gilgamesh.errors import TrustError, VerificationFailed
from gilgamesh.trust import keys

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")

DATA = b"langmuir 1.2.0\n\x00 any bytes at all \xff\n"


def ssh_keygen(*args, input=None, check=True):
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}  # never an agent's keys
    result = subprocess.run(["ssh-keygen", *args], input=input, capture_output=True, env=env, timeout=60)
    if check and result.returncode:
        raise AssertionError(f"ssh-keygen {' '.join(args)}: {result.stderr.decode()}")
    return result


@pytest.fixture
def openssh_key(tmp_path):
    """A key ssh-keygen made: (path, its .pub line)."""
    path = str(tmp_path / "id_ed25519")
    ssh_keygen("-q", "-t", "ed25519", "-N", "", "-C", "alice@lab", "-f", path)
    with open(path + ".pub") as f:
        return path, f.read().strip()


@pytest.fixture
def our_key(tmp_path):
    path = str(tmp_path / "ours")
    return path, keys.create_key(path, "bob@lab")


def ssh_verify(tmp_path, public: keys.PublicKey, data: bytes, signature: str, namespace="gilgamesh"):
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'publisher namespaces="{namespace}" {public.line}\n')
    sig = tmp_path / "data.sig"
    sig.write_text(signature)
    return ssh_keygen("-Y", "verify", "-f", str(allowed), "-I", "publisher", "-n", namespace, "-s", str(sig),
                      input=data, check=False)


# -- keys both ways -------------------------------------------------------------------------------
def test_a_key_ssh_keygen_made_loads(openssh_key):
    path, pub_line = openssh_key
    key = keys.load_key(path)
    assert key.comment == "alice@lab" and key.public.line == pub_line
    fingerprint = ssh_keygen("-l", "-f", path + ".pub").stdout.decode().split()[1]
    assert key.public.fingerprint == fingerprint and str(key.public) == fingerprint


def test_a_key_we_made_loads_in_ssh_keygen(our_key):
    path, key = our_key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ssh_keygen("-y", "-f", path).stdout.decode().strip() == key.public.line
    assert key.public.line.startswith("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA") and key.public.line.endswith(" bob@lab")
    assert ssh_keygen("-l", "-f", path).stdout.decode().split()[1] == key.public.fingerprint
    assert keys.load_key(path) == key


def test_the_key_file_is_0600_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        keys.create_key(str(tmp_path / "k"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o600
    assert os.listdir(tmp_path) == ["k"]  # no temporary file left behind


def test_an_existing_key_is_not_replaced(our_key):
    path, key = our_key
    with pytest.raises(TrustError, match="exists"):
        keys.create_key(path)
    assert keys.load_key(path) == key
    assert keys.create_key(path, overwrite=True) != key


def test_public_key_lines_parse_and_print(openssh_key):
    _, line = openssh_key
    public = keys.parse_public_key(line + "\n")
    assert public.line == line and public.comment == "alice@lab"
    bare = keys.parse_public_key(line.rsplit(" ", 1)[0])
    assert bare == public and bare.comment == "" and not bare.line.endswith(" ")
    assert keys.parse_public_key(line.replace("alice@lab", "a comment with spaces")).comment == "a comment with spaces"


@pytest.mark.parametrize("line,match", [
    ("", "not a public key line"),
    ("ssh-ed25519", "not a public key line"),
    ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== me", "key type is ssh-rsa: only ssh-ed25519"),
    ("ssh-ed25519 not*base64", "not base64"),
    ("ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAAAgQ==", "key type is ssh-rsa, not ssh-ed25519"),  # the blob says RSA
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==", "truncated"),
])
def test_bad_public_key_lines_are_refused(line, match):
    with pytest.raises(TrustError, match=match):
        keys.parse_public_key(line)


def test_key_files_that_cannot_sign_are_refused_naming_the_path(tmp_path, openssh_key):
    missing = str(tmp_path / "nope")
    with pytest.raises(TrustError, match=re.escape(f"no key file {missing}")):
        keys.load_key(missing)

    encrypted = str(tmp_path / "encrypted")
    ssh_keygen("-q", "-t", "ed25519", "-N", "a passphrase", "-f", encrypted)
    with pytest.raises(TrustError, match=re.escape(f"{encrypted} is encrypted with a passphrase")):
        keys.load_key(encrypted)

    ecdsa = str(tmp_path / "ecdsa")
    ssh_keygen("-q", "-t", "ecdsa", "-N", "", "-f", ecdsa)
    with pytest.raises(TrustError, match=re.escape(f"{ecdsa}: the key type is ecdsa-sha2-nistp256, not ssh-ed25519")):
        keys.load_key(ecdsa)

    path, _ = openssh_key
    with pytest.raises(TrustError, match="is a public key: give the private key file"):
        keys.load_key(path + ".pub")

    with open(path) as f:
        text = f.read()
    for name, content in [("garbage", b"hello\n"), ("binary", b"\x00\xff\xfe"),
                          ("truncated", text[:len(text) // 2].encode() + b"\n-----END OPENSSH PRIVATE KEY-----\n"),
                          ("empty", b""), ("no armor end", text.encode()[:-40])]:
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(TrustError, match=re.escape(str(bad))):
            keys.load_key(str(bad))


@pytest.mark.parametrize("offset,match", [
    (98, "corrupt \\(its check numbers differ\\)"),  # the first check number
    (125, "malformed Ed25519 key"),  # the public key inside the private part
    (161, "the private key does not match its public key"),  # the seed
    (-1, "malformed Ed25519 key"),  # the padding
])
def test_a_corrupt_private_key_is_refused(tmp_path, our_key, offset, match):
    path, _ = our_key
    with open(path) as f:
        body = bytearray(base64.b64decode("".join(f.read().splitlines()[1:-1])))
    # magic 15, "none" 8, "none" 8, "" 4, count 4, public blob 4+51, private length 4: the private part at 98
    body[offset] ^= 0x01
    (tmp_path / "k").write_bytes(keys._armor(bytes(body), keys._KEY_ARMOR).encode())
    with pytest.raises(TrustError, match=match):
        keys.load_key(str(tmp_path / "k"))


def test_a_pkcs8_ed25519_key_loads_and_other_pem_keys_are_refused(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    plain = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    (tmp_path / "pkcs8").write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(*plain))
    assert len(keys.load_key(str(tmp_path / "pkcs8")).public.raw) == 32
    (tmp_path / "ec").write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(*plain))
    with pytest.raises(TrustError, match="is EC, not Ed25519"):
        keys.load_key(str(tmp_path / "ec"))
    locked = serialization.BestAvailableEncryption(b"pw")
    (tmp_path / "locked").write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(plain[0], plain[1], locked))
    with pytest.raises(TrustError, match="encrypted"):
        keys.load_key(str(tmp_path / "locked"))


# -- signatures both ways -------------------------------------------------------------------------
def test_our_signature_verifies_with_ssh_keygen(tmp_path, our_key):
    _, key = our_key
    signature = keys.sign(key, DATA)
    assert signature.startswith("-----BEGIN SSH SIGNATURE-----\n") and signature.endswith("-----END SSH SIGNATURE-----\n")
    assert all(len(line) <= 70 for line in signature.splitlines())
    result = ssh_verify(tmp_path, key.public, DATA, signature)
    assert result.returncode == 0 and b'Good "gilgamesh" signature for publisher' in result.stdout
    # The oracle refuses what we refuse: other data, another namespace.
    assert ssh_verify(tmp_path, key.public, DATA + b"!", signature).returncode != 0
    assert ssh_verify(tmp_path, key.public, DATA, signature, namespace="git").returncode != 0
    assert key.sign(b"") and ssh_verify(tmp_path, key.public, b"", key.sign(b"")).returncode == 0


def test_ssh_keygens_signature_verifies_with_ours(tmp_path, openssh_key):
    path, line = openssh_key
    signature = ssh_keygen("-Y", "sign", "-f", path, "-n", "gilgamesh", input=DATA).stdout.decode()
    public = keys.parse_public_key(line)
    assert keys.verify(DATA, signature, public) == public
    assert keys.verify(DATA, signature.encode(), [keys.parse_public_key(keys.create_key(str(tmp_path / "x")).public.line),
                                                   public]) == public
    assert keys.signature_key(signature) == public


def test_ssh_keygens_sha256_signatures_verify_too(tmp_path, openssh_key):
    path, line = openssh_key
    signature = ssh_keygen("-Y", "sign", "-f", path, "-n", "gilgamesh", "-O", "hashalg=sha256", input=DATA).stdout
    assert keys.verify(DATA, signature, keys.parse_public_key(line)) == keys.parse_public_key(line)


def test_tampered_data_wrong_namespace_and_wrong_key_are_refused(tmp_path, our_key, openssh_key):
    _, key = our_key
    signature = key.sign(DATA)
    with pytest.raises(VerificationFailed, match="does not verify: the data or the signature was changed"):
        keys.verify(DATA + b" ", signature, key.public)
    with pytest.raises(VerificationFailed, match="namespace 'gilgamesh', not 'git'"):
        keys.verify(DATA, signature, key.public, namespace="git")
    with pytest.raises(VerificationFailed, match="namespace 'file'"):
        keys.verify(DATA, key.sign(DATA, namespace="file"), key.public)
    other = keys.parse_public_key(openssh_key[1])
    with pytest.raises(VerificationFailed, match=re.escape(f"signed by {key.public.fingerprint}, which is not an allowed key")):
        keys.verify(DATA, signature, other)
    with pytest.raises(VerificationFailed, match="not an allowed key"):
        keys.verify(DATA, signature, [])


def test_truncated_and_bit_flipped_signatures_are_refused(our_key):
    _, key = our_key
    signature = key.sign(DATA)
    lines = signature.splitlines()
    for bad in (signature[: len(signature) // 2], "\n".join(lines[:-1]), "\n".join([lines[0], *lines[2:]]), "",
                signature.replace("SSH SIGNATURE", "PGP SIGNATURE")):
        with pytest.raises(TrustError):
            keys.verify(DATA, bad, key.public)
    blob = base64.b64decode("".join(lines[1:-1]))
    for i in range(len(blob)):  # every bit of the signature, flipped
        for bit in range(8):
            flipped = bytearray(blob)
            flipped[i] ^= 1 << bit
            with pytest.raises(TrustError):
                keys.verify(DATA, keys._armor(bytes(flipped), keys._SIG_ARMOR), key.public)
    for n in range(1, len(blob)):  # and every truncation of it, well armored
        with pytest.raises(TrustError):
            keys.verify(DATA, keys._armor(blob[:n], keys._SIG_ARMOR), key.public)
    with pytest.raises(TrustError, match="trailing data"):
        keys.verify(DATA, keys._armor(blob + b"\x00", keys._SIG_ARMOR), key.public)


def test_a_non_ed25519_signature_is_refused(tmp_path):
    ecdsa = str(tmp_path / "ecdsa")
    ssh_keygen("-q", "-t", "ecdsa", "-N", "", "-f", ecdsa)
    signature = ssh_keygen("-Y", "sign", "-f", ecdsa, "-n", "gilgamesh", input=DATA).stdout
    with pytest.raises(TrustError, match="the key type is ecdsa-sha2-nistp256, not ssh-ed25519"):
        keys.verify(DATA, signature, [])


def test_signing_needs_a_namespace(our_key):
    with pytest.raises(TrustError, match="namespace"):
        our_key[1].sign(DATA, namespace="")

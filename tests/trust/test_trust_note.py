"""Signed notes and checkpoints: golang.org/x/mod's sumdb/note vectors reproduced byte for byte,
cosignatures, and every malformed or altered note refused."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings, strategies as st

from gilgamesh.errors import TrustError, VerificationFailed
from gilgamesh.trust import merkle, note
from gilgamesh.trust.note import Checkpoint

# Public test vectors of golang.org/x/mod/sumdb/note (TestSign, TestOpen).
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
SIGNED = TEXT + "\n" + PETER_SIG

PETER = note.parse_verifier(PETER_VKEY)
ENOCH = note.parse_verifier(ENOCH_VKEY)


# -- keys -----------------------------------------------------------------------------------------
def test_the_vector_keys_parse_and_encode_back():
    signer = note.parse_signer(PETER_SKEY)
    assert (PETER.name, PETER.key_hash) == ("PeterNeumann", 0xC74F20A3)
    assert PETER.encoded == PETER_VKEY and signer.encoded == PETER_SKEY
    assert signer.verifier == PETER and signer.key_hash == 0xC74F20A3
    assert "AYEK" not in repr(signer)  # the seed stays out of logs


@pytest.mark.parametrize("key,parse", [(PETER_VKEY, note.parse_verifier), (PETER_SKEY, note.parse_signer)])
def test_every_mangled_key_is_refused(key, parse):
    """As Go's TestNewVerifier and TestNewSigner: every proper substring, every byte changed."""
    for i in range(len(key) + 1):
        for j in range(i + 1, len(key) + 1):
            if (i, j) != (0, len(key)):
                with pytest.raises(TrustError):
                    parse(key[i:j])
    for i in range(len(key)):
        with pytest.raises(TrustError):
            parse(key[:i] + chr(ord(key[i]) + 1) + key[i + 1:])


def test_keys_split_on_the_first_plus_signs_only():
    signer, verifier = note.generate_key("example.com/log")
    while "+" not in verifier.encoded.split("+", 2)[2]:  # a key whose base64 holds a '+'
        signer, verifier = note.generate_key("example.com/log")
    assert note.parse_verifier(verifier.encoded) == verifier
    assert note.parse_signer(signer.encoded).seed == signer.seed


def test_wrong_algorithm_length_and_names_are_refused():
    with pytest.raises(TrustError, match="not an Ed25519 key"):  # Go's: unknown algorithm, hash adjusted
        note.parse_verifier("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    with pytest.raises(TrustError, match="not base64 in its canonical form"):  # Go's: wrong length
        note.parse_verifier("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
    for name in ("", "a b", "a+b", "tab\tname", "no\u00a0break"):
        with pytest.raises(TrustError, match="invalid key name"):
            note.Verifier(name, PETER.public_key)
    with pytest.raises(TrustError, match="PRIVATE\\+KEY"):
        note.parse_signer(PETER_VKEY)


# -- signing and opening --------------------------------------------------------------------------
def test_signing_reproduces_gos_note_exactly():
    signer = note.parse_signer(PETER_SKEY)
    assert note.sign(TEXT, [signer]) == SIGNED.encode()
    # An existing signature of the same key is replaced, not repeated (Go's TestSign).
    stale = note.Signature("PeterNeumann", 0xC74F20A3, "BADSIGN=")
    assert note.sign(TEXT, [signer], existing=[stale]) == SIGNED.encode()


def test_opening_gos_note():
    opened = note.open_note(SIGNED.encode(), [PETER])
    assert opened.text == TEXT and opened.signers == {"PeterNeumann"} and opened.unverified == ()
    assert opened.signatures[0].line == PETER_SIG
    assert note.open_note(SIGNED, [PETER]) == opened  # str or bytes


def test_a_cosigned_note_verifies_what_is_known_and_keeps_the_rest():
    both = (TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode()
    opened = note.open_note(both, [PETER])
    assert opened.signers == {"PeterNeumann"}
    assert [s.name for s in opened.unverified] == ["EnochRoot"] and opened.unverified[0].key_hash == 0xAF0CFE78
    assert note.open_note(both, [PETER, ENOCH]).signers == {"PeterNeumann", "EnochRoot"}
    assert note.open_note(both, [ENOCH]).signers == {"EnochRoot"}
    # Duplicates are dropped; a changed unknown signature is just another unknown one.
    changed = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    opened = note.open_note((TEXT + "\n" + PETER_SIG * 2 + ENOCH_SIG * 2 + changed).encode(), [PETER])
    assert len(opened.signatures) == 1 and len(opened.unverified) == 2


def test_a_witness_cosigns_what_the_log_signed():
    log, log_v = note.generate_key("log.example")
    witness, witness_v = note.generate_key("witness.example")
    checkpoint = Checkpoint("log.example", 3, merkle.leaf_hash(b"x"))
    signed = note.sign_checkpoint(checkpoint, [log])
    cosigned = note.cosign(signed, witness, [log_v])
    assert cosigned.startswith(signed)  # the log's line stays first, the witness's is added
    assert cosigned.decode().count("\n— ") == 2
    opened = note.open_note(cosigned, [log_v, witness_v])
    assert opened.signers == {"log.example", "witness.example"}
    # A second witness keeps both earlier lines, even the one it cannot check.
    other, other_v = note.generate_key("other.example")
    thrice = note.cosign(cosigned, other, [log_v])
    assert note.open_note(thrice, [log_v, witness_v, other_v]).signers == {"log.example", "witness.example",
                                                                          "other.example"}
    # A witness refuses to cosign a note its log did not sign.
    with pytest.raises(VerificationFailed, match="no known key"):
        note.cosign(signed, witness, [witness_v])
    forged = signed.replace(b"\n3\n", b"\n4\n")
    with pytest.raises(VerificationFailed, match="does not verify"):
        note.cosign(forged, witness, [log_v])


def test_unknown_signers_only_is_refused():
    with pytest.raises(VerificationFailed, match="no known key signed this note.*PeterNeumann\\+c74f20a3"):
        note.open_note(SIGNED, [ENOCH])
    with pytest.raises(VerificationFailed):
        note.open_note(SIGNED, [])


def test_a_known_key_with_a_bad_signature_is_refused_even_beside_a_good_one():
    bad = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(VerificationFailed, match="PeterNeumann\\+c74f20a3 does not verify"):
        note.open_note(TEXT + "\n" + bad, [PETER])
    with pytest.raises(VerificationFailed):
        note.open_note(TEXT + "\n" + bad + ENOCH_SIG, [PETER, ENOCH])


def test_a_changed_text_does_not_verify():
    for i in range(len(TEXT) - 1):
        changed = TEXT[:i] + ("X" if TEXT[i] != "X" else "Y") + TEXT[i + 1:]
        with pytest.raises(TrustError):
            note.open_note(changed + "\n" + PETER_SIG, [PETER])


@pytest.mark.parametrize("message", [
    TEXT,  # no signatures
    TEXT + "\n",  # a blank line, then nothing
    TEXT + "\n" + PETER_SIG[:-1],  # the last line unterminated
    "\x01" + TEXT + "\n" + PETER_SIG,  # a control character
    TEXT + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
    TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    TEXT + "\n" + "- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
    TEXT + "\n" + "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n",
    TEXT + "\n" + "— PeterNeumann x08g\n",  # too short
    TEXT + "\n" + "— PeterNeumann \n",
    TEXT + "\n" + PETER_SIG * 101,  # more than 100 signatures
], ids=["no signatures", "blank then nothing", "unterminated", "control character", "name with a space",
        "a line that is no signature", "hyphen for em dash", "bad base64 padding", "too short", "empty signature",
        "101 signatures"])
def test_malformed_notes_are_refused_with_a_clear_error(message):
    with pytest.raises(TrustError, match="malformed note|not base64"):
        note.open_note(message, [PETER])


def test_not_utf8_is_refused():
    with pytest.raises(TrustError, match="not UTF-8"):
        note.open_note(b"\xff" + SIGNED.encode(), [PETER])


def test_signing_refuses_a_text_without_its_newline_or_signers():
    signer = note.parse_signer(PETER_SKEY)
    with pytest.raises(TrustError, match="newline"):
        note.sign("abc", [signer])
    with pytest.raises(TrustError, match="signer"):
        note.sign(TEXT, [])


def test_two_different_keys_under_one_name_and_hash_are_refused():
    # (A real Verifier's hash is its key's; a verifier list that someone tampered with need not be.)
    twin = type("Twin", (), {"name": "PeterNeumann", "key_hash": 0xC74F20A3, "public_key": ENOCH.public_key})()
    with pytest.raises(TrustError, match="two verifier keys"):
        note.open_note(SIGNED, [PETER, twin])
    note.open_note(SIGNED, [PETER, PETER])  # the same key twice is harmless


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=200)
       .map(lambda t: "".join(c for c in t if c >= " " or c == "\n") + "\n"))
def test_any_text_round_trips_and_any_changed_byte_is_refused(text):
    signer, verifier = note.generate_key("prop.example")
    signed = note.sign(text, [signer])
    assert note.open_note(signed, [verifier]).text == text
    body = bytearray(signed)
    for i in range(0, len(body), max(1, len(body) // 25)):
        changed = bytearray(body)
        changed[i] ^= 0x01
        try:
            opened = note.open_note(bytes(changed), [verifier])
        except TrustError:
            continue
        raise AssertionError(f"byte {i} changed and the note still opened: {opened}")


# -- checkpoints ----------------------------------------------------------------------------------
def test_a_checkpoint_is_origin_size_root():
    root = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
    checkpoint = Checkpoint("registry.example/log", 8, root)
    assert checkpoint.text == f"registry.example/log\n8\n{base64.b64encode(root).decode()}\n"
    assert note.parse_checkpoint(checkpoint.text) == checkpoint
    with_ext = Checkpoint("registry.example/log", 8, root, ("— not a signature, an extension", "ext 2"))
    assert note.parse_checkpoint(with_ext.text) == with_ext and with_ext.text.endswith("ext 2\n")


def test_signed_checkpoints_open_for_their_log_and_origin_only():
    signer, verifier = note.generate_key("registry.example/log")
    tree = merkle.Tree(merkle.leaf_hash(bytes([i])) for i in range(5))
    signed = note.sign_checkpoint(Checkpoint("registry.example/log", tree.size, tree.root()), [signer])
    checkpoint, opened = note.open_checkpoint(signed, verifier)
    assert (checkpoint.size, checkpoint.root) == (5, tree.root()) and opened.signers == {"registry.example/log"}
    with pytest.raises(VerificationFailed, match="of the log 'registry.example/log', not 'other'"):
        note.open_checkpoint(signed, verifier, origin="other")
    # A log whose key name is not its origin says which origin it signs for.
    named, named_v = note.generate_key("log-key-2024")
    other = note.sign_checkpoint(Checkpoint("registry.example/log", 1, tree.root(1)), [named])
    assert note.open_checkpoint(other, named_v, origin="registry.example/log")[0].size == 1
    with pytest.raises(VerificationFailed, match="not 'log-key-2024'"):
        note.open_checkpoint(other, named_v)


def test_a_checkpoint_needs_the_logs_own_signature_and_shows_its_witnesses():
    log, log_v = note.generate_key("registry.example/log")
    witness, witness_v = note.generate_key("witness.example")
    body = Checkpoint("registry.example/log", 1, merkle.leaf_hash(b"x"))
    cosigned = note.cosign(note.sign_checkpoint(body, [log]), witness, [log_v])
    checkpoint, opened = note.open_checkpoint(cosigned, log_v, [witness_v])
    assert checkpoint == body and opened.signers == {"registry.example/log", "witness.example"}
    assert note.open_checkpoint(cosigned, log_v)[1].signers == {"registry.example/log"}  # witness unknown: kept aside
    only_witness = note.sign(body.text, [witness])
    with pytest.raises(VerificationFailed, match="not signed by the log's key registry.example/log"):
        note.open_checkpoint(only_witness, log_v, [witness_v])


@pytest.mark.parametrize("text,match", [
    ("origin\n8\n", "expected origin, size and root"),
    ("origin\n08\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQyg=\n", "not a decimal"),
    ("origin\n-1\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQyg=\n", "not a decimal"),
    ("origin\n+1\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQyg=\n", "not a decimal"),
    ("origin\n\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQyg=\n", "not a decimal"),
    ("origin\n٣\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQyg=\n", "not a decimal"),
    ("origin\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQyg\n", "not base64"),
    ("origin\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQw==\n", "not 32 bytes"),
    ("origin\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQyg=", "end with a newline"),
    ("\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQyg=\n", "origin"),
    ("origin\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQyg=\n\n", "extension line"),
    ("origin\n9223372036854775808\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQyg=\n", "size"),
])
def test_malformed_checkpoints_are_refused(text, match):
    with pytest.raises(TrustError, match=match):
        note.parse_checkpoint(text)


def test_a_key_made_from_an_ssh_seed_signs_checkpoints(tmp_path):
    from gilgamesh.trust import keys

    key = keys.create_key(str(tmp_path / "log_key"))
    signer, verifier = key.note_signer("registry.example/log"), key.public.note_verifier("registry.example/log")
    assert signer.verifier == verifier
    signed = note.sign_checkpoint(Checkpoint("registry.example/log", 0, merkle.EMPTY_ROOT), [signer])
    assert note.open_checkpoint(signed, note.parse_verifier(verifier.encoded))[0].size == 0

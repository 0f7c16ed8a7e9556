"""Statements and log entries: one canonical byte string each, strict parsers, signatures that
ssh-keygen checks too, and the whole chain (sign, log, checkpoint, prove) end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from gilgamesh.errors import TrustError, VerificationFailed
from gilgamesh.trust import keys, merkle, note
from gilgamesh.trust.statement import Entry, Statement, canonical, entry_hash, parse_entry, parse_statement

SHA_A, SHA_B = "a" * 64, "0123456789abcdef" * 4
FILES = {"notebook.ipynb": SHA_A, "gilgamesh.json": SHA_B}


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    return keys.create_key(str(tmp_path_factory.mktemp("keys") / "publisher"), "alice@lab")


def release(**overrides):
    fields = {"version": "1.2.0", "files": dict(FILES), **overrides.pop("fields", {})}
    return Statement(overrides.pop("kind", "release"), overrides.pop("name", "langmuir"),
                     overrides.pop("previous", ""), fields)


def test_the_canonical_bytes_of_a_release():
    assert release().to_bytes() == (
        b'{"files":{"gilgamesh.json":"' + SHA_B.encode() + b'","notebook.ipynb":"' + SHA_A.encode()
        + b'"},"kind":"release","name":"langmuir","previous":"","v":1,"version":"1.2.0"}')


def test_text_stays_utf8_not_escaped():
    yank = release(kind="yank", fields={"reason": "Débye length wrong — use 1.2.1"})
    assert "Débye length wrong — use 1.2.1".encode() in yank.to_bytes()
    assert parse_statement(yank.to_bytes()) == yank


def test_every_kind_round_trips(key):
    line = key.public.line
    statements = [
        release(),
        release(kind="adopted"),
        release(kind="yank", previous=SHA_B, fields={"reason": "wrong constant"}),
        release(kind="deprecation", fields={"message": "use langmuir 2"}),
        Statement("grant", "langmuir", SHA_A, {"key": line, "admin": True}),
        Statement("revocation", "langmuir", SHA_A, {"key": line}),
    ]
    for s in statements:
        again = parse_statement(s.to_bytes())
        assert again == s and again.to_bytes() == s.to_bytes() and hash(again) == hash(s)
    assert statements[0].version == "1.2.0" and dict(statements[0].files) == FILES
    assert statements[4].version is None and statements[4].files == {}


def test_a_statement_cannot_change_after_it_is_made():
    files = dict(FILES)
    s = release(fields={"files": files})
    files["extra.txt"] = SHA_A
    assert "extra.txt" not in s.files
    with pytest.raises(TypeError):
        s.fields["files"]["x"] = SHA_A


@pytest.mark.parametrize("make,match", [
    (lambda: release(kind="publish"), "unknown kind 'publish'"),
    (lambda: Statement("release", "langmuir", "", {"version": "1.2.0"}), "missing files"),
    (lambda: Statement("yank", "langmuir", "", {"version": "1.2.0", "files": FILES}), "missing reason"),
    (lambda: release(fields={"note": "x"}), "unknown note"),
    (lambda: Statement("grant", "langmuir", "", {"key": "ssh-ed25519 AAAA", "admin": "yes"}), "admin must be a bool"),
    (lambda: Statement("revocation", "langmuir", "", {"key": "ssh-rsa AAAAB3NzaC1yc2E="}), "only ssh-ed25519"),
    (lambda: release(name="Langmuir"), "Invalid API name"),
    (lambda: release(fields={"version": "1.2"}), "Invalid version"),
    (lambda: release(fields={"version": 1}), "version must be a str"),
    (lambda: release(previous="abc"), "previous must be an entry hash"),
    (lambda: release(previous=SHA_A.upper()), "previous must be an entry hash"),
    (lambda: release(fields={"files": {}}), "every file"),
    (lambda: release(fields={"files": {"nb.ipynb": "A" * 64}}), "64 lowercase hex"),
    (lambda: release(fields={"files": {"../etc/passwd": SHA_A}}), "not a relative file path"),
    (lambda: release(fields={"files": {"/abs": SHA_A}}), "not a relative file path"),
    (lambda: release(fields={"files": {"a//b": SHA_A}}), "not a relative file path"),
    (lambda: release(kind="yank", fields={"reason": True}), "reason must be a str"),
])
def test_bad_statements_are_refused(make, match):
    with pytest.raises(TrustError, match=match):
        make()


def statement_json(**changes):
    value = release().to_dict()
    value.update(changes)
    return {k: v for k, v in value.items() if v is not None}


@pytest.mark.parametrize("data,match", [
    (json.dumps(release().to_dict()).encode(), "not in canonical form"),  # spaces
    (json.dumps(release().to_dict(), separators=(",", ":")).encode(), "not in canonical form"),  # unsorted
    (json.dumps(release(kind="yank", fields={"reason": "é"}).to_dict(), sort_keys=True,
                separators=(",", ":")).encode(), "not in canonical form"),  # \u00e9
    (release().to_bytes() + b"\n", "not in canonical form"),
    (b"\xff", "not UTF-8 JSON"),
    (b"[1, 2]", "not in canonical form"),
    (b"[1,2]", "not a JSON object"),
    (canonical(statement_json(v=2)), "format 2"),
    (canonical(statement_json(v=True)), "format True"),
    (canonical(statement_json(v=None)), "missing v"),
    (canonical(statement_json(previous=None)), "missing previous"),
    (canonical(statement_json(kind="publish")), "unknown kind"),
    (canonical(statement_json(version=None)), "missing version"),
    (canonical(statement_json(extra=1)), "unknown extra"),
    (canonical(statement_json(name=7)), "must be strings"),
    (b'{"v":1,"v":1}', "not in canonical form"),  # a duplicate key
])
def test_the_parser_refuses_anything_but_canonical_known_statements(data, match):
    with pytest.raises(TrustError, match=match):
        parse_statement(data)


# -- entries --------------------------------------------------------------------------------------
def test_an_entry_is_signed_parsed_and_verified(key):
    entry = Entry.sign(release(), key)
    assert entry.signer == key.public.line.rsplit(" ", 1)[0]  # the key, not its comment
    data = entry.to_bytes()
    assert data.startswith(b'{"signature":"-----BEGIN SSH SIGNATURE-----\\n') and b'"statement":{"files"' in data
    again = parse_entry(data)
    assert again == entry and again.to_bytes() == data
    assert again.verify() == key.public
    assert entry.hash == entry_hash(data) == merkle.leaf_hash(data).hex()


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")
def test_ssh_keygen_verifies_an_entrys_signature(tmp_path, key):
    entry = Entry.sign(release(), key)
    (tmp_path / "allowed").write_text(f'alice namespaces="gilgamesh" {entry.signer}\n')
    (tmp_path / "sig").write_text(entry.signature)
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    result = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(tmp_path / "allowed"), "-I", "alice",
                             "-n", "gilgamesh", "-s", str(tmp_path / "sig")], input=entry.statement.to_bytes(),
                            capture_output=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_changed_entry_does_not_verify(key, tmp_path):
    entry = Entry.sign(release(), key)
    value = json.loads(entry.to_bytes())
    value["statement"]["files"]["notebook.ipynb"] = SHA_B  # other bytes under the same signature
    with pytest.raises(VerificationFailed, match="does not verify"):
        parse_entry(canonical(value)).verify()
    other = keys.create_key(str(tmp_path / "other"))
    value = json.loads(entry.to_bytes())
    value["signer"] = keys.PublicKey(other.public.raw).line  # someone else claims the signature
    with pytest.raises(VerificationFailed, match="not an allowed key"):
        parse_entry(canonical(value)).verify()


@pytest.mark.parametrize("change,match", [
    (lambda v: v.pop("signer"), "exactly statement, signature and signer"),
    (lambda v: v.update(extra=1), "exactly statement, signature and signer"),
    (lambda v: v.update(signature=1), "must be strings"),
    (lambda v: v.update(signer=v["signer"] + " alice@lab"), "without a comment"),
    (lambda v: v.update(signer="ssh-rsa AAAA"), "only ssh-ed25519"),
    (lambda v: v["statement"].update(kind="nope"), "unknown kind"),
    (lambda v: v.update(statement="{}"), "not a JSON object"),
])
def test_the_entry_parser_is_strict(key, change, match):
    value = json.loads(Entry.sign(release(), key).to_bytes())
    change(value)
    with pytest.raises(TrustError, match=match):
        parse_entry(canonical(value))
    with pytest.raises(TrustError, match="not in canonical form"):
        parse_entry(json.dumps(json.loads(Entry.sign(release(), key).to_bytes())).encode())


# -- end to end: what the log, publish and verify will do -----------------------------------------
def test_sign_log_checkpoint_and_prove(key, tmp_path):
    log_signer, log_verifier = note.generate_key("registry.example/log")
    tree, previous, entries = merkle.Tree(), {}, []
    grant = Statement("grant", "langmuir", "", {"key": key.public.line, "admin": True})
    for s in [grant, release(), release(fields={"version": "1.3.0"}),
              release(kind="yank", fields={"version": "1.2.0", "reason": "bad constant"})]:
        s = Statement(s.kind, s.name, previous.get(s.name, ""), dict(s.fields))  # chained per API
        entry = Entry.sign(s, key)
        tree.append(merkle.leaf_hash(entry.to_bytes()))
        previous[s.name] = entry.hash
        entries.append(entry.to_bytes())
    old = note.sign_checkpoint(note.Checkpoint("registry.example/log", 2, tree.root(2)), [log_signer])
    new = note.sign_checkpoint(note.Checkpoint("registry.example/log", tree.size, tree.root()), [log_signer])

    # A client: the checkpoints, the log's growth, each entry's place in it, the chain, the signatures.
    before, _ = note.open_checkpoint(old, log_verifier)
    after, _ = note.open_checkpoint(new, log_verifier)
    merkle.verify_consistency(before.size, after.size, tree.consistency_proof(before.size, after.size),
                              before.root, after.root)
    chain = ""
    for index, data in enumerate(entries):
        merkle.verify_inclusion(merkle.leaf_hash(data), index, after.size, tree.inclusion_proof(index), after.root)
        entry = parse_entry(data)
        assert entry.statement.previous == chain and entry.verify() == key.public
        chain = entry.hash

    # A log that rewrote the first release cannot show the client the same head.
    forged = parse_entry(entries[1])
    forged_fields = dict(forged.statement.fields, files={"notebook.ipynb": SHA_B})
    forged = Entry.sign(Statement("release", "langmuir", forged.statement.previous, forged_fields), key)
    with pytest.raises(VerificationFailed):
        merkle.verify_inclusion(merkle.leaf_hash(forged.to_bytes()), 1, after.size, tree.inclusion_proof(1), after.root)

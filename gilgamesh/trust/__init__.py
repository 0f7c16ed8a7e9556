"""Signed, tamper-evident releases (issue 27): the cryptographic core, a pure library.

Go's checksum-database model: every release, yank, deprecation and per-API grant is a statement
signed with an SSH Ed25519 key (:mod:`.keys`, :mod:`.statement`), appended to an RFC 6962 Merkle
log (:mod:`.merkle`) whose heads are published as signed checkpoints (:mod:`.note`) that
witnesses can cosign. Importing this package imports none of them: :mod:`.keys` and :mod:`.note`
load ``cryptography``, which stays off the import path of ``gilgamesh.api``.
"""

"""The release log's Merkle tree: RFC 6962's published vectors, a reference implementation written
straight from RFC 9162's definitions, and properties (every proof verifies; every altered one fails)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings, strategies as st

from gilgamesh.errors import TrustError, VerificationFailed
from gilgamesh.trust import merkle
from gilgamesh.trust.merkle import (EMPTY_ROOT, Tree, consistency_proof_size, inclusion_proof_size, leaf_hash,
                                    node_hash, verify_consistency, verify_inclusion)

# Certificate Transparency's reference leaves and tree heads (RFC 6962 test vectors, as published in
# transparency-dev/merkle and google/certificate-transparency).
CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                        "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (0, 1, []),
]
CT_CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


@pytest.fixture(scope="module")
def ct_tree():
    return Tree(leaf_hash(d) for d in CT_LEAVES)


# -- a reference written from RFC 9162, section 2.1, as the definitions read ------------------------
def ref_mth(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(ref_mth(leaves[:k]), ref_mth(leaves[k:]))


def ref_path(m, leaves):
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m, leaves, complete):
    n = len(leaves)
    if m == n:
        return [] if complete else [ref_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return ref_subproof(m, leaves[:k], complete) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


def leaves_of(n, salt=b""):
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


# -- the published vectors ------------------------------------------------------------------------
def test_leaf_and_node_hashes_are_rfc6962s():
    assert leaf_hash(b"").hex() == CT_ROOTS[1]
    assert node_hash(leaf_hash(b""), leaf_hash(b"\x00")).hex() == CT_ROOTS[2]
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]


def test_tree_heads_match_the_reference_vectors(ct_tree):
    assert [ct_tree.root(n).hex() for n in range(9)] == CT_ROOTS
    for n in range(9):  # grown one leaf at a time, each head is the same
        assert Tree(leaf_hash(d) for d in CT_LEAVES[:n]).root().hex() == CT_ROOTS[n]


@pytest.mark.parametrize("index,size,path", CT_INCLUSION)
def test_inclusion_proofs_match_the_reference_vectors(ct_tree, index, size, path):
    proof = ct_tree.inclusion_proof(index, size)
    assert [h.hex() for h in proof] == path
    verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, proof, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize("old,new,path", CT_CONSISTENCY)
def test_consistency_proofs_match_the_reference_vectors(ct_tree, old, new, path):
    proof = ct_tree.consistency_proof(old, new)
    assert [h.hex() for h in proof] == path
    verify_consistency(old, new, proof, bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new]))


# -- against the reference, every shape up to 40 leaves -------------------------------------------
def test_every_head_and_proof_agrees_with_rfc9162s_definitions():
    leaves = leaves_of(40)
    tree = Tree(leaves)
    for n in range(41):
        assert tree.root(n) == ref_mth(leaves[:n])
        for m in range(n):
            assert tree.inclusion_proof(m, n) == ref_path(m, leaves[:n])
            assert inclusion_proof_size(m, n) == len(ref_path(m, leaves[:n]))
        for m in range(1, n + 1):
            assert tree.consistency_proof(m, n) == ref_subproof(m, leaves[:n], True)
            assert consistency_proof_size(m, n) == len(ref_subproof(m, leaves[:n], True))


# -- the edges ------------------------------------------------------------------------------------
def test_the_empty_tree():
    tree = Tree()
    assert tree.size == 0 and tree.root() == EMPTY_ROOT and tree.stored == b""
    assert tree.consistency_proof(0) == [] and consistency_proof_size(0, 0) == 0
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(TrustError, match="no leaf 0"):
        tree.inclusion_proof(0)
    with pytest.raises(VerificationFailed):
        verify_inclusion(EMPTY_ROOT, 0, 0, [], EMPTY_ROOT)


def test_one_leaf():
    leaf = leaf_hash(b"only")
    tree = Tree([leaf])
    assert tree.root() == leaf and tree.inclusion_proof(0) == []
    verify_inclusion(leaf, 0, 1, [], leaf)
    with pytest.raises(VerificationFailed):
        verify_inclusion(leaf, 0, 1, [leaf], leaf)
    with pytest.raises(VerificationFailed):
        verify_inclusion(leaf_hash(b"other"), 0, 1, [], leaf)


def test_from_the_empty_tree_and_to_the_same_size():
    tree = Tree(leaves_of(5))
    verify_consistency(0, 5, [], EMPTY_ROOT, tree.root())  # everything extends the empty tree
    with pytest.raises(VerificationFailed, match="another head"):
        verify_consistency(0, 5, [], tree.root(3), tree.root())  # ...whose head is SHA-256("")
    with pytest.raises(VerificationFailed):
        verify_consistency(0, 5, [EMPTY_ROOT], EMPTY_ROOT, tree.root())
    for m in (1, 3, 4, 5):
        assert tree.consistency_proof(m, m) == []
        verify_consistency(m, m, [], tree.root(m), tree.root(m))
        with pytest.raises(VerificationFailed):
            verify_consistency(m, m, [], tree.root(m), tree.root(m - 1))
        with pytest.raises(VerificationFailed):
            verify_consistency(m, m, [tree.root(m)], tree.root(m), tree.root(m))


@pytest.mark.parametrize("size", [1, 2, 4, 8, 16, 32, 64])
def test_powers_of_two(size):
    leaves = leaves_of(size)
    tree = Tree(leaves)
    assert tree.root() == ref_mth(leaves)
    depth = size.bit_length() - 1
    for m in range(size):
        proof = tree.inclusion_proof(m)
        assert len(proof) == depth
        verify_inclusion(leaves[m], m, size, proof, tree.root())
    for m in range(1, size + 1):  # from a power of two, the old head itself is not sent
        verify_consistency(m, size, tree.consistency_proof(m), tree.root(m), tree.root())
    if size > 1:
        assert len(tree.consistency_proof(size // 2)) == 1


def test_time_travel_and_bad_arguments_are_refused():
    tree = Tree(leaves_of(6))
    with pytest.raises(TrustError):
        tree.consistency_proof(7, 6)
    with pytest.raises(TrustError, match="no tree of 7"):
        tree.root(7)
    with pytest.raises(TrustError):
        tree.inclusion_proof(-1)
    with pytest.raises(VerificationFailed, match="cannot extend"):
        verify_consistency(6, 5, [], tree.root(6), tree.root(5))
    with pytest.raises(VerificationFailed, match="no leaf 6"):
        verify_inclusion(leaves_of(6)[0], 6, 6, tree.inclusion_proof(0), tree.root())
    with pytest.raises(VerificationFailed, match="32 bytes"):
        verify_inclusion(b"short", 0, 6, tree.inclusion_proof(0), tree.root())
    with pytest.raises(VerificationFailed, match="32 bytes"):
        verify_inclusion(leaves_of(6)[0], 0, 6, [h[:31] for h in tree.inclusion_proof(0)], tree.root())
    with pytest.raises(TrustError, match="32 bytes"):
        tree.append(b"not a hash")
    with pytest.raises(TrustError, match="no leaf 6"):
        inclusion_proof_size(6, 6)
    with pytest.raises(TrustError, match="cannot extend"):
        consistency_proof_size(7, 6)


# -- the stored hashes ----------------------------------------------------------------------------
def test_the_stored_hash_order_is_tlogs():
    # tlog: leaf 0, leaf 1, (1,0), leaf 2, leaf 3, (1,1), (2,0), leaf 4 ...
    expected = [(0, 0), (0, 1), (1, 0), (0, 2), (0, 3), (1, 1), (2, 0), (0, 4), (0, 5), (1, 2), (0, 6)]
    assert [merkle.split_stored_hash_index(i) for i in range(len(expected))] == expected
    for i in range(5000):
        assert merkle.stored_hash_index(*merkle.split_stored_hash_index(i)) == i
    assert [merkle.stored_hash_count(n) for n in range(9)] == [0, 1, 3, 4, 7, 8, 10, 11, 15]


def test_stored_hashes_are_the_subtree_heads():
    leaves = leaves_of(37)
    tree = Tree(leaves)
    assert len(tree.stored) == merkle.stored_hash_count(37) * 32
    for i in range(merkle.stored_hash_count(37)):
        level, n = merkle.split_stored_hash_index(i)
        assert tree.read([i])[0] == ref_mth(leaves[n << level:(n + 1) << level])


def test_a_tree_reopened_from_its_stored_hashes_and_a_reader_over_a_file(tmp_path):
    tree = Tree(leaves_of(21))
    again = Tree.from_stored(tree.stored, 21)
    again.append(leaf_hash(b"22nd"))
    tree.append(leaf_hash(b"22nd"))
    assert again.root() == tree.root() and again.stored == tree.stored
    with pytest.raises(TrustError, match="stored hashes"):
        Tree.from_stored(tree.stored[:-32], 22)

    # What a log on disk does: one file of 32-byte records, read by index.
    path = tmp_path / "hashes"
    path.write_bytes(tree.stored)

    def read(indexes):
        with open(path, "rb") as f:
            out = []
            for i in indexes:
                f.seek(i * 32)
                out.append(f.read(32))
            return out

    assert merkle.tree_hash(22, read) == tree.root()
    assert merkle.inclusion_proof(7, 22, read) == tree.inclusion_proof(7)
    assert merkle.consistency_proof(13, 22, read) == tree.consistency_proof(13)
    with pytest.raises(TrustError, match="answered"):
        merkle.tree_hash(22, lambda indexes: [])


def test_proof_sizes_of_a_million_entries_without_building_the_log():
    n = 1_000_000
    assert max(inclusion_proof_size(i, n) for i in (0, 1, n // 2, 999_423, n - 1)) == 20
    # 1e6 = 2^19 + 2^18 + 2^17 + 2^16 + 2^14 + 2^9 + 2^6: the last leaf is 6 deep in the last
    # subtree, whose 6 neighbours' heads complete the path.
    assert inclusion_proof_size(n - 1, n) == 12
    assert consistency_proof_size(1 << 19, n) == 1  # the old tree is the left half: its right neighbour
    assert consistency_proof_size(n - 1, n) == 13
    assert consistency_proof_size(0, n) == consistency_proof_size(n, n) == 0
    assert all(consistency_proof_size(m, n) <= 2 * 20 for m in range(1, n, 9973))
    tree = Tree(leaves_of(4097))  # and the sizes are those of real proofs, past a power of two too
    for m in (0, 1, 2048, 4095, 4096):
        assert inclusion_proof_size(m, 4097) == len(tree.inclusion_proof(m))
        assert consistency_proof_size(m, 4097) == len(tree.consistency_proof(m))


# -- properties: every proof verifies; anything else does not ------------------------------------
def mutations(proof):
    """Every proof near ``proof`` that is not it: truncated, lengthened, one bit flipped."""
    if proof:
        yield "truncated at the end", proof[:-1]
        yield "truncated at the front", proof[1:]
    yield "lengthened at the end", proof + [EMPTY_ROOT]
    yield "lengthened at the front", [EMPTY_ROOT] + proof
    if proof:
        yield "a hash repeated", proof[:1] + proof
    for i, h in enumerate(proof):
        for bit in (0, 7, 130, 255):
            flipped = bytearray(h)
            flipped[bit // 8] ^= 1 << (bit % 8)
            yield f"hash {i} bit {bit} flipped", proof[:i] + [bytes(flipped)] + proof[i + 1:]


sizes = st.integers(min_value=1, max_value=300)


@settings(max_examples=150, deadline=None)
@given(size=sizes, data=st.data())
def test_inclusion_proofs_verify_and_altered_ones_do_not(size, data):
    index = data.draw(st.integers(0, size - 1), label="index")
    leaves = leaves_of(size, salt=b"inclusion")
    tree = Tree(leaves)
    root, proof = tree.root(), tree.inclusion_proof(index)
    verify_inclusion(leaves[index], index, size, proof, root)
    for what, bad in mutations(proof):
        with pytest.raises(VerificationFailed):
            verify_inclusion(leaves[index], index, size, bad, root)
    for other in {index - 1, index + 1, index ^ 1, index ^ 2} - {index}:  # distinct leaves: another index fails
        with pytest.raises(VerificationFailed):
            verify_inclusion(leaves[index], other, size, proof, root)
    with pytest.raises(VerificationFailed):
        verify_inclusion(leaf_hash(b"not in the log"), index, size, proof, root)
    with pytest.raises(VerificationFailed):
        verify_inclusion(leaves[index], index, size, proof, tree.root(size - 1) if size > 1 else EMPTY_ROOT)


@settings(max_examples=150, deadline=None)
@given(size=sizes, data=st.data())
def test_consistency_proofs_verify_and_altered_ones_do_not(size, data):
    old = data.draw(st.integers(0, size), label="old size")
    leaves = leaves_of(size, salt=b"consistency")
    tree = Tree(leaves)
    old_root, root, proof = tree.root(old), tree.root(), tree.consistency_proof(old)
    verify_consistency(old, size, proof, old_root, root)
    assert len(proof) == consistency_proof_size(old, size)
    for what, bad in mutations(proof):
        with pytest.raises(VerificationFailed):
            verify_consistency(old, size, bad, old_root, root)
    if 0 < old < size:
        with pytest.raises(VerificationFailed):
            verify_consistency(old, size, proof, root, old_root)  # the heads swapped
        with pytest.raises(VerificationFailed):
            verify_consistency(old, size, proof, old_root, Tree(leaves_of(size, salt=b"forked")).root())
        # A log that rewrote an old entry cannot prove it extends the old head.
        forked = Tree([leaf_hash(b"rewritten")] + leaves[1:])
        with pytest.raises(VerificationFailed):
            verify_consistency(old, size, forked.consistency_proof(old), old_root, forked.root())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=80))
def test_any_leaves_agree_with_the_reference(data):
    leaves = [leaf_hash(d) for d in data]
    tree = Tree(leaves)
    assert tree.root() == ref_mth(leaves)
    for size in range(len(leaves) + 1):
        assert tree.root(size) == ref_mth(leaves[:size])

"""The Merkle tree of the release log: RFC 6962 (and RFC 9162) hashes, tree heads and proofs.

A log of signed statements is only tamper-evident if a reader can check, cheaply and without
trusting the server, that an entry is in the tree a signed checkpoint names (an inclusion proof)
and that today's tree extends yesterday's (a consistency proof). These are Certificate
Transparency's algorithms, laid out as golang.org/x/mod's ``sumdb/tlog`` lays them out, so a
proof from here verifies with any RFC 6962 verifier and the other way round.

Storage is the caller's: the tree is kept as tlog's "stored hashes" (every leaf hash and the hash
of every complete, aligned subtree, in one dense append-only order, :func:`stored_hash_index`),
read back through a ``read(indexes) -> hashes`` function. An append writes at most 1 + log2(n)
hashes (two on average); a tree head or a proof reads at most about 2·log2(n) of them. A log on
disk can be one file of 32-byte records; :class:`Tree` is the same thing in memory.

One departure from tlog: the tree of size 0 has RFC 6962's head, SHA-256 of the empty string
(:data:`EMPTY_ROOT`), not 32 zero bytes.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Sequence

from gilgamesh.errors import TrustError, VerificationFailed

__all__ = [
    "HASH_SIZE",
    "EMPTY_ROOT",
    "leaf_hash",
    "node_hash",
    "stored_hash_index",
    "split_stored_hash_index",
    "stored_hash_count",
    "stored_hashes",
    "tree_hash",
    "inclusion_proof",
    "consistency_proof",
    "verify_inclusion",
    "verify_consistency",
    "inclusion_proof_size",
    "consistency_proof_size",
    "Tree",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Reader = Callable[[Sequence[int]], Sequence[bytes]]  # stored-hash indexes -> their hashes


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one log entry."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """RFC 6962's k for a tree of n >= 2 leaves: the largest power of two below n."""
    return 1 << ((n - 1).bit_length() - 1)


# -- where each hash is stored (Crosby and Wallach's ordering, as tlog) ---------------------------
def stored_hash_index(level: int, n: int) -> int:
    """The position of the hash of the ``n``-th complete subtree of 2**level leaves."""
    for _ in range(level):  # level L's n-th hash comes right after level L+1's (2n+1)-th
        n = 2 * n + 1
    i = 0
    while n:  # level 0's n-th hash is at n + n/2 + n/4 + ...
        i += n
        n >>= 1
    return i + level


def split_stored_hash_index(index: int) -> tuple[int, int]:
    """The inverse of :func:`stored_hash_index`: ``(level, n)``."""
    n = index // 2  # stored_hash_index(0, n) <= 2n, so n is in [index/2, index/2 + log2(index)]
    at = stored_hash_index(0, n)
    while True:
        following = at + 1 + ((n + 1) & -(n + 1)).bit_length() - 1  # leaf n adds 1 + ctz(n+1)
        if following > index:
            break
        n, at = n + 1, following
    level = index - at
    return level, n >> level


def stored_hash_count(size: int) -> int:
    """How many hashes a tree of ``size`` leaves stores."""
    if size == 0:
        return 0
    count = stored_hash_index(0, size - 1) + 1
    i = size - 1
    while i & 1:  # and the subtrees the last leaf completes
        count, i = count + 1, i >> 1
    return count


def stored_hashes(n: int, leaf: bytes, read: Reader) -> list[bytes]:
    """The hashes to append, at ``stored_hash_index(0, n)``, when leaf ``n`` (its leaf hash) joins
    a tree of ``n`` leaves: the leaf hash, then each subtree it completes. Reads at most log2(n)."""
    completed = ((n + 1) & -(n + 1)).bit_length() - 1  # each trailing 1 bit of n completes one
    indexes = [stored_hash_index(i, (n >> i) - 1) for i in reversed(range(completed))]
    old = _read(read, indexes)
    hashes, h = [leaf], leaf
    for i in range(completed):
        h = node_hash(old[completed - 1 - i], h)
        hashes.append(h)
    return hashes


def _read(read: Reader, indexes: list[int]) -> list[bytes]:
    hashes = list(read(indexes)) if indexes else []
    if len(hashes) != len(indexes) or any(len(h) != HASH_SIZE for h in hashes):
        raise TrustError(f"the log's hash storage answered {len(hashes)} hashes for {len(indexes)} indexes")
    return hashes


# -- tree heads and proofs ------------------------------------------------------------------------
def _subtrees(lo: int, hi: int) -> list[int]:
    """The stored hashes whose fold is the hash of leaves [lo, hi): complete subtrees, largest first."""
    out = []
    while lo < hi:
        k = 1 << ((hi - lo).bit_length() - 1)
        level = k.bit_length() - 1
        assert lo % k == 0, "bad subtree math"
        out.append(stored_hash_index(level, lo >> level))
        lo += k
    return out


def _hashes_of(ranges: list[tuple[int, int]], read: Reader) -> list[bytes]:
    """The hash of each range of leaves, from one read of the stored hashes."""
    plans = [_subtrees(lo, hi) for lo, hi in ranges]
    hashes = iter(_read(read, [i for plan in plans for i in plan]))
    out = []
    for plan in plans:
        parts = [next(hashes) for _ in plan]
        h = parts[-1]
        for left in reversed(parts[:-1]):
            h = node_hash(left, h)
        out.append(h)
    return out


def tree_hash(size: int, read: Reader) -> bytes:
    """The head (root hash) of the tree of the first ``size`` leaves."""
    _check_size(size)
    return _hashes_of([(0, size)], read)[0] if size else EMPTY_ROOT


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """RFC 6962's PATH(index, D[0:size]): the sibling ranges from the leaf up to the root."""
    ranges, lo, hi = [], 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    return ranges[::-1]


def _consistency_ranges(old: int, size: int) -> list[tuple[int, int]]:
    """RFC 6962's PROOF(old, D[0:size]) for 0 < old <= size, bottom-up."""
    ranges, lo, hi = [], 0, size
    while old != hi:
        k = _split(hi - lo)
        if old <= lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    if lo != 0:  # the old tree's last complete subtree, which the verifier cannot know
        ranges.append((lo, hi))
    return ranges[::-1]


def inclusion_proof(index: int, size: int, read: Reader) -> list[bytes]:
    """The proof that leaf ``index`` is in the tree of ``size`` leaves (RFC 6962's audit path)."""
    _check_size(size)
    if not 0 <= index < size:
        raise TrustError(f"no leaf {index} in a tree of {size}")
    return _hashes_of(_inclusion_ranges(index, size), read)


def consistency_proof(old_size: int, size: int, read: Reader) -> list[bytes]:
    """The proof that the tree of ``size`` leaves extends the tree of ``old_size`` (empty if
    old_size is 0 or size)."""
    _check_size(size)
    if not 0 <= old_size <= size:
        raise TrustError(f"a tree of {size} cannot extend one of {old_size}")
    return _hashes_of(_consistency_ranges(old_size, size), read) if old_size else []


def inclusion_proof_size(index: int, size: int) -> int:
    """How many hashes :func:`inclusion_proof` returns, without any tree (O(log size))."""
    if not 0 <= index < size:
        raise TrustError(f"no leaf {index} in a tree of {size}")
    return len(_inclusion_ranges(index, size))


def consistency_proof_size(old_size: int, size: int) -> int:
    """How many hashes :func:`consistency_proof` returns, without any tree (O(log size))."""
    if not 0 <= old_size <= size:
        raise TrustError(f"a tree of {size} cannot extend one of {old_size}")
    return len(_consistency_ranges(old_size, size)) if old_size else 0


def _check_size(size: int) -> None:
    if not isinstance(size, int) or size < 0:
        raise TrustError(f"not a tree size: {size!r}")


# -- verifying (what a client runs; it needs no storage) ------------------------------------------
def _check_hashes(what: str, hashes: Iterable[bytes]) -> None:
    for h in hashes:
        if not isinstance(h, (bytes, bytearray)) or len(h) != HASH_SIZE:
            raise VerificationFailed(f"{what}: a hash that is not {HASH_SIZE} bytes")


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Raise :class:`VerificationFailed` unless ``proof`` shows that the leaf hash ``leaf`` is leaf
    ``index`` of the tree of ``size`` leaves whose head is ``root``."""
    proof = list(proof)
    _check_hashes("inclusion proof", [leaf, root, *proof])
    if not (isinstance(index, int) and isinstance(size, int) and 0 <= index < size):
        raise VerificationFailed(f"inclusion proof: no leaf {index} in a tree of {size}")
    if len(proof) != inclusion_proof_size(index, size):
        raise VerificationFailed(f"inclusion proof: {len(proof)} hashes where leaf {index} of a tree of "
                                 f"{size} needs {inclusion_proof_size(index, size)}")
    h, lo, hi, path = leaf, 0, size, []
    while hi - lo > 1:  # the left/right turns from the root down to the leaf
        k = _split(hi - lo)
        path.append(index < lo + k)
        lo, hi = (lo, lo + k) if index < lo + k else (lo + k, hi)
    for sibling, is_left in zip(proof, reversed(path)):
        h = node_hash(h, sibling) if is_left else node_hash(sibling, h)
    if h != root:
        raise VerificationFailed(f"inclusion proof: leaf {index} is not in the tree of {size} with that head")


def verify_consistency(old_size: int, size: int, proof: Sequence[bytes], old_root: bytes, root: bytes) -> None:
    """Raise :class:`VerificationFailed` unless ``proof`` shows that the tree of ``size`` leaves with
    head ``root`` extends the tree of ``old_size`` leaves with head ``old_root``."""
    proof = list(proof)
    _check_hashes("consistency proof", [old_root, root, *proof])
    if not (isinstance(old_size, int) and isinstance(size, int) and 0 <= old_size <= size):
        raise VerificationFailed(f"consistency proof: a tree of {size} cannot extend one of {old_size}")
    expected = consistency_proof_size(old_size, size)
    if len(proof) != expected:
        raise VerificationFailed(f"consistency proof: {len(proof)} hashes where {old_size} -> {size} needs {expected}")
    if old_size == 0 or old_size == size:  # nothing to prove: the heads say it all
        if (old_size == 0 and old_root != EMPTY_ROOT) or (old_size == size and old_root != root):
            raise VerificationFailed(f"consistency proof: the tree of {old_size} has another head")
        return
    old_h, new_h = _run_consistency(proof, 0, size, old_size, old_root)
    if old_h != old_root or new_h != root:
        raise VerificationFailed(f"consistency proof: the tree of {size} does not extend that tree of {old_size}")


def _run_consistency(proof: list[bytes], lo: int, hi: int, old: int, old_root: bytes) -> tuple[bytes, bytes]:
    """tlog's runTreeProof: the heads of [lo, hi) in the old tree and the new one that ``proof``
    implies (its length already checked)."""
    if old == hi:
        return (old_root, old_root) if lo == 0 else (proof[0], proof[0])
    k = _split(hi - lo)
    last = proof[-1]
    if old <= lo + k:
        o, n = _run_consistency(proof[:-1], lo, lo + k, old, old_root)
        return o, node_hash(n, last)
    o, n = _run_consistency(proof[:-1], lo + k, hi, old, old_root)
    return node_hash(last, o), node_hash(last, n)


# -- in memory --------------------------------------------------------------------------------------
class Tree:
    """A tree held in memory as its stored hashes (one ``bytearray``, 32 bytes a hash, in the order
    a file of the log would hold them): append leaf hashes, ask for heads and proofs of any size up
    to the current one."""

    def __init__(self, leaves: Iterable[bytes] = ()):
        self._stored = bytearray()
        self.size = 0
        for leaf in leaves:
            self.append(leaf)

    @classmethod
    def from_stored(cls, stored: bytes, size: int) -> "Tree":
        """The tree whose stored hashes are ``stored`` (what :attr:`stored` gave)."""
        if len(stored) != stored_hash_count(size) * HASH_SIZE:
            raise TrustError(f"{len(stored)} bytes of stored hashes for a tree of {size} "
                             f"(expected {stored_hash_count(size) * HASH_SIZE})")
        tree = cls()
        tree._stored, tree.size = bytearray(stored), size
        return tree

    @property
    def stored(self) -> bytes:
        return bytes(self._stored)

    def read(self, indexes: Sequence[int]) -> list[bytes]:
        """The stored hashes at ``indexes`` (a :data:`Reader`)."""
        out = []
        for i in indexes:
            if not 0 <= i < len(self._stored) // HASH_SIZE:
                raise TrustError(f"no stored hash {i} in a tree of {self.size}")
            out.append(bytes(self._stored[i * HASH_SIZE:(i + 1) * HASH_SIZE]))
        return out

    def append(self, leaf: bytes) -> int:
        """Add a leaf hash (:func:`leaf_hash` of the entry); its index."""
        if len(leaf) != HASH_SIZE:
            raise TrustError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf)}")
        for h in stored_hashes(self.size, bytes(leaf), self.read):
            self._stored += h
        self.size += 1
        return self.size - 1

    def _size(self, size: int | None) -> int:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise TrustError(f"no tree of {size} in a log of {self.size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        return tree_hash(self._size(size), self.read)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self._size(size), self.read)

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        return consistency_proof(old_size, self._size(size), self.read)

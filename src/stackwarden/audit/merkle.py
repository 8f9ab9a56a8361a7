"""RFC 6962 (Certificate Transparency) Merkle tree hashing, tree heads and inclusion proofs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

LEAF_PREFIX, NODE_PREFIX = b"\x00", b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """MTH of one leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (RFC 6962 section 2.1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree head over already-hashed leaves (SHA-256 of nothing for an empty tree)."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    level = list(hashes)
    # Bottom-up pairing gives the same tree as the RFC's recursive split: an odd node at the end
    # of a level is promoted unchanged, which is exactly where the split puts the smaller subtree.
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path for leaf `index` in the tree over `hashes` (RFC 6962 section 2.1.1)."""
    if not 0 <= index < len(hashes):
        raise ValueError(f"leaf {index} is outside a tree of {len(hashes)}")
    path: list[bytes] = []
    lo, hi = 0, len(hashes)
    # Walk down from the root, keeping the sibling subtree's head at each split.
    siblings: list[bytes] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append(root_from_leaf_hashes(hashes[lo + k:hi]))
            hi = lo + k
        else:
            siblings.append(root_from_leaf_hashes(hashes[lo:lo + k]))
            lo = lo + k
    path.extend(reversed(siblings))
    return path


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Recompute the tree head from a leaf hash and its audit path (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is outside a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("the proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     root: bytes) -> bool:
    """Whether `proof` shows that `leaf` is leaf `index` of the tree of `size` with head `root`."""
    try:
        return root_from_inclusion_proof(index, size, leaf, proof) == root
    except ValueError:
        return False


class MerkleAccumulator:
    """Tree heads of a growing log in O(log n) memory: append leaf hashes, ask for the root."""

    def __init__(self, size: int = 0, peaks: Sequence[bytes] = ()) -> None:
        if size.bit_count() != len(peaks):
            raise ValueError(f"{len(peaks)} peaks cannot describe a tree of {size} leaves")
        self.size = size
        self._peaks: list[bytes] = list(peaks)  # heads of perfect subtrees, largest first

    @property
    def peaks(self) -> list[bytes]:
        """The perfect-subtree heads (enough to resume appending later)."""
        return list(self._peaks)

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash."""
        node, size = leaf, self.size
        while size & 1:  # merge equal-sized perfect subtrees, as binary carry
            node = node_hash(self._peaks.pop(), node)
            size >>= 1
        self._peaks.append(node)
        self.size += 1

    def root(self) -> bytes:
        """The RFC 6962 tree head over every leaf appended so far."""
        if not self._peaks:
            return hashlib.sha256(b"").digest()
        node = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            node = node_hash(peak, node)
        return node

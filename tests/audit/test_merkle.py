"""RFC 6962 hashing: the tree head against the RFC's recursive definition, inclusion proofs."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from stackwarden.audit.merkle import (
    MerkleAccumulator,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_inclusion,
)


def rfc_mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 6962 section 2.1 writes it (recursive split)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + rfc_mth(leaves[:k]) + rfc_mth(leaves[k:])).digest()


# Test vectors from RFC 6962's reference implementation (certificate-transparency merkle_test):
# leaves "" , 00, 10, 2021, 3031, 40414243, 5051525354555657, 606162636465666768696a6b6c6d6e6f
RFC_LEAVES = [bytes.fromhex(h) for h in
              ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
               "606162636465666768696a6b6c6d6e6f"]]
RFC_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def test_rfc_vectors() -> None:
    for size, root in RFC_ROOTS.items():
        hashes = [leaf_hash(d) for d in RFC_LEAVES[:size]]
        assert root_from_leaf_hashes(hashes).hex() == root
        acc = MerkleAccumulator()
        for h in hashes:
            acc.append(h)
        assert acc.root().hex() == root


@given(st.lists(st.binary(max_size=8), max_size=70))
def test_head_matches_recursive_definition(leaves: list[bytes]) -> None:
    hashes = [leaf_hash(d) for d in leaves]
    expected = rfc_mth(leaves)
    assert root_from_leaf_hashes(hashes) == expected
    acc = MerkleAccumulator()
    for h in hashes:
        acc.append(h)
    assert acc.root() == expected


@given(st.integers(min_value=1, max_value=80), st.data())
def test_inclusion_proofs(size: int, data: st.DataObject) -> None:
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    root = root_from_leaf_hashes(hashes)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = inclusion_proof(index, hashes)
    assert verify_inclusion(index, size, hashes[index], proof, root)
    # the same proof does not work for another leaf, index, or a truncated path
    other = (index + 1) % size
    if other != index:
        assert not verify_inclusion(index, size, hashes[other], proof, root)
        assert not verify_inclusion(other, size, hashes[index], proof, root)
    if proof:
        assert not verify_inclusion(index, size, hashes[index], proof[:-1], root)
        bad = [node_hash(proof[0], proof[0]), *proof[1:]]
        assert not verify_inclusion(index, size, hashes[index], bad, root)

"""verify_log on in-memory logs: every kind of damage, and the sequence number it names."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stackwarden.audit.chain import AuditEntry, next_entry
from stackwarden.audit.merkle import root_from_leaf_hashes
from stackwarden.audit.signing import Checkpoint, key_id, sign_checkpoint
from stackwarden.audit.verify import verify_log

KEY = Ed25519PrivateKey.generate()
TRUSTED = {key_id(KEY.public_key()): KEY.public_key()}


def log(n: int = 12) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for i in range(n):
        entries.append(next_entry(entries[-1] if entries else None, time=f"t{i}", actor="a",
                                  action="x.do", object=f"o:{i}", details={"i": i}))
    return entries


def checkpoints(entries: list[AuditEntry], every: int = 4,
                key: Ed25519PrivateKey = KEY) -> list[Checkpoint]:
    return [sign_checkpoint(key, n, root_from_leaf_hashes(
        [bytes.fromhex(e.hash) for e in entries[:n]]).hex(), "t")
        for n in range(every, len(entries) + 1, every)]


def test_intact() -> None:
    entries = log()
    result = verify_log(entries, checkpoints(entries), TRUSTED)
    assert result.ok and result.verified_through == 12 and result.first_bad_seq is None
    shorter = entries + [next_entry(entries[-1], time="t", actor="a", action="x", object="o")]
    partial = verify_log(shorter, checkpoints(entries), TRUSTED)
    assert partial.ok and partial.verified_through == 12
    assert "13-13 are chained but not yet covered" in partial.notes[0]


def swapped(entries: list[AuditEntry]) -> list[AuditEntry]:
    out = list(entries)
    out[4], out[6] = out[6], out[4]
    return out


def rehashed(entry: AuditEntry) -> AuditEntry:
    return replace(entry, hash=entry.compute_hash())


CASES = [
    ("modified details", lambda e: [*e[:5], replace(e[5], details={"i": 99}), *e[6:]], 6),
    ("modified and re-hashed", lambda e: [*e[:5], rehashed(replace(e[5], actor="mallory")),
                                          *e[6:]], 6),
    ("deleted", lambda e: e[:5] + e[6:], 6),
    ("duplicated", lambda e: e[:6] + e[5:], 7),
    ("reordered", swapped, 5),
    ("truncated", lambda e: e[:10], 11),
    ("garbage hash", lambda e: [*e[:2], replace(e[2], hash="zz"), *e[3:]], 3),
]


@pytest.mark.parametrize(("damage", "first_bad"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_damage(damage, first_bad: int) -> None:  # type: ignore[no-untyped-def]
    entries = log()
    result = verify_log(damage(entries), checkpoints(entries), TRUSTED)
    assert not result.ok and result.first_bad_seq == first_bad, result.problems


def test_foreign_and_broken_signatures() -> None:
    entries = log()
    other = Ed25519PrivateKey.generate()
    cps = checkpoints(entries)
    forged = [*cps[:1], *checkpoints(entries, key=other)[1:]]
    result = verify_log(entries, forged, TRUSTED)
    assert result.first_bad_seq == 5 and "unknown key" in result.summary()
    bent = [cps[0], replace(cps[1], signature=cps[0].signature), cps[2]]
    result = verify_log(entries, bent, TRUSTED)
    assert result.first_bad_seq == 5 and "does not verify" in result.summary()
    lying = [cps[0], replace(cps[1], tree_size=7)]
    assert not verify_log(entries, lying, TRUSTED).ok
    empty = [Checkpoint(0, "00", "t", key_id(KEY.public_key()), "")]
    assert verify_log(entries, empty, TRUSTED).first_bad_seq == 1

"""Verification of an audit log: the chain, the checkpoints, and the first bad sequence number."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from stackwarden.audit.chain import GENESIS, AuditEntry
from stackwarden.audit.merkle import MerkleAccumulator
from stackwarden.audit.signing import Checkpoint, signature_valid


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the log cannot be trusted from `seq` on."""

    seq: int
    message: str


@dataclass
class VerifyResult:
    """What verification found; `first_bad_seq` is None when the log is intact."""

    entries: int = 0
    checkpoints: int = 0
    verified_through: int = 0  # entries covered by the largest valid, matching checkpoint
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        """The lowest sequence number from which the log cannot be trusted."""
        return min((p.seq for p in self.problems), default=None)

    def summary(self) -> str:
        """One line for people."""
        if self.ok:
            return (f"audit log intact: {self.entries} entries, {self.checkpoints} signed "
                    f"checkpoints, verified through entry {self.verified_through}")
        first = min(self.problems, key=lambda p: p.seq)
        return f"audit log TAMPERED: first bad entry is seq {first.seq}: {first.message}"


def verify_log(entries: Iterable[AuditEntry], checkpoints: Iterable[Checkpoint],
               trusted_keys: Mapping[str, Ed25519PublicKey]) -> VerifyResult:
    """Check every entry's hash, the chain links, and every checkpoint's signature and root.

    `entries` in stored order (by sequence number); `trusted_keys` maps key id to public key.
    """
    result = VerifyResult()
    pending = sorted(checkpoints, key=lambda c: c.tree_size)
    result.checkpoints = len(pending)
    accumulator = MerkleAccumulator()
    prev_hash, chain_broken = GENESIS, False
    last_valid_checkpoint = 0
    cp_index = 0

    def check_checkpoints_at(size: int) -> None:
        nonlocal cp_index, last_valid_checkpoint
        while cp_index < len(pending) and pending[cp_index].tree_size == size:
            cp = pending[cp_index]
            cp_index += 1
            key = trusted_keys.get(cp.key_id)
            if key is None or not signature_valid(cp, key):
                who = "an unknown key" if key is None else "a signature that does not verify"
                result.problems.append(Problem(last_valid_checkpoint + 1,
                                               f"checkpoint at tree size {cp.tree_size} has "
                                               f"{who} (key id {cp.key_id})"))
            elif accumulator.root().hex() != cp.root_hash:
                if chain_broken:  # the chain already named the exact entry
                    continue
                result.problems.append(Problem(last_valid_checkpoint + 1,
                                               f"entries {last_valid_checkpoint + 1}-{size} do "
                                               f"not match the signed checkpoint at tree size "
                                               f"{cp.tree_size}"))
            else:
                last_valid_checkpoint = size

    while cp_index < len(pending) and pending[cp_index].tree_size <= 0:
        result.problems.append(Problem(1, "a checkpoint claims an empty tree"))
        cp_index += 1
    for position, entry in enumerate(entries, start=1):
        result.entries = position
        if not chain_broken:
            problem = _entry_problem(entry, position, prev_hash)
            if problem is not None:
                result.problems.append(problem)
                chain_broken = True  # later links are meaningless once one is broken
        prev_hash = entry.hash
        accumulator.append(bytes.fromhex(entry.hash) if _is_hex64(entry.hash) else b"")
        check_checkpoints_at(position)
    if cp_index < len(pending):
        biggest = pending[-1].tree_size
        result.problems.append(Problem(result.entries + 1,
                                       f"a checkpoint covers {biggest} entries but only "
                                       f"{result.entries} are present (entries removed)"))
    result.verified_through = last_valid_checkpoint
    if result.ok and result.entries > last_valid_checkpoint:
        result.notes.append(f"entries {last_valid_checkpoint + 1}-{result.entries} are chained "
                            "but not yet covered by a signed checkpoint")
    return result


def _is_hex64(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _entry_problem(entry: AuditEntry, position: int, prev_hash: str) -> Problem | None:
    """Why this entry breaks the chain at `position`, or None."""
    if entry.seq != position:
        what = "missing" if entry.seq > position else "out of order or duplicated"
        return Problem(position, f"expected seq {position}, found {entry.seq} (entry {what})")
    if entry.compute_hash() != entry.hash:
        return Problem(position, "the entry's content does not match its hash (modified)")
    if entry.prev_hash != prev_hash:
        # Either the previous entry was changed and re-hashed, or this link was altered: the
        # earliest entry that may be bad is the previous one.
        return Problem(max(1, position - 1),
                       f"entry {position} does not link to entry {position - 1}'s hash "
                       f"(entry {position - 1} changed and re-hashed, or the link altered)")
    return None

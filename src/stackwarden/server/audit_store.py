"""The audit log in the server's database: append inside the caller's transaction, sign
checkpoints, read entries back, verify, prove inclusion and export evidence bundles."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from stackwarden.audit.bundle import BundleReport, write_bundle
from stackwarden.audit.chain import AuditEntry, canonical_json, next_entry
from stackwarden.audit.merkle import MerkleAccumulator, inclusion_proof, root_from_leaf_hashes
from stackwarden.audit.signing import (
    Checkpoint,
    key_id,
    load_or_create_signing_key,
    load_public_key,
    sign_checkpoint,
)
from stackwarden.audit.verify import VerifyResult, verify_log
from stackwarden.core.errors import StackWardenError
from stackwarden.server.db import Database
from stackwarden.server.db.models import AuditCheckpointRow, AuditEntryRow, AuditHead, Scan


class AuditStoreError(StackWardenError):
    """The audit log could not be read or appended to."""


def utc_now_text() -> str:
    """Now, as the ISO 8601 UTC text audit entries carry."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_to_entry(row: AuditEntryRow) -> AuditEntry:
    """A stored row as an entry (details parsed back from canonical JSON)."""
    try:
        details = json.loads(row.details)
    except ValueError:
        details = {"__unreadable__": row.details}  # tampered text: the hash check reports it
    return AuditEntry(seq=row.seq, time=row.time, actor=row.actor, action=row.action,
                      object=row.object, details=details if isinstance(details, dict) else
                      {"__not_an_object__": details}, prev_hash=row.prev_hash, hash=row.hash)


class AuditLog:
    """Appends entries (chained, with periodic signed checkpoints) in the caller's session."""

    def __init__(self, key: Ed25519PrivateKey, checkpoint_every: int = 100,
                 extra_trusted: Mapping[str, Ed25519PublicKey] | None = None) -> None:
        self.key = key
        self.checkpoint_every = checkpoint_every
        public = key.public_key()
        self.trusted_keys: dict[str, Ed25519PublicKey] = {key_id(public): public,
                                                          **(extra_trusted or {})}

    @classmethod
    def from_files(cls, key_path: Path, checkpoint_every: int = 100,
                   trusted_public_keys: list[Path] | tuple[Path, ...] = ()) -> AuditLog:
        """The log for a server: its signing key file (made on first use) and older keys."""
        extra = {}
        for path in trusted_public_keys:
            try:
                key = load_public_key(path.read_bytes())
            except OSError as exc:
                raise AuditStoreError(f"cannot read a trusted key: {exc.strerror}",
                                      source=str(path)) from None
            extra[key_id(key)] = key
        return cls(load_or_create_signing_key(key_path), checkpoint_every, extra)

    def append(self, session: Session, actor: str, action: str, obj: str,
               details: dict[str, Any] | None = None) -> AuditEntry:
        """Record one action in the caller's transaction (it commits or rolls back with it)."""
        head = session.execute(select(AuditHead).where(AuditHead.id == 1)
                               .with_for_update()).scalar_one()
        prev = None if head.seq == 0 else AuditEntry(seq=head.seq, time="", actor="",
                                                     action="", object="", hash=head.hash)
        entry = next_entry(prev, time=utc_now_text(), actor=actor, action=action, object=obj,
                           details=details)
        session.add(AuditEntryRow(seq=entry.seq, time=entry.time, actor=entry.actor,
                                  action=entry.action, object=entry.object,
                                  details=canonical_json(entry.details).decode("utf-8"),
                                  prev_hash=entry.prev_hash, hash=entry.hash))
        acc = _accumulator(head)
        acc.append(bytes.fromhex(entry.hash))
        head.seq, head.hash, head.peaks = entry.seq, entry.hash, ",".join(
            p.hex() for p in acc.peaks)
        if entry.seq % self.checkpoint_every == 0:
            self._sign(session, acc, entry.time)
        session.flush()
        return entry

    def checkpoint(self, session: Session) -> Checkpoint | None:
        """Sign the current head now (None when the log is empty or already covered)."""
        head = session.execute(select(AuditHead).where(AuditHead.id == 1)
                               .with_for_update()).scalar_one()
        if head.seq == 0 or session.get(AuditCheckpointRow, head.seq) is not None:
            return None
        return self._sign(session, _accumulator(head), utc_now_text())

    def _sign(self, session: Session, acc: MerkleAccumulator, time: str) -> Checkpoint:
        cp = sign_checkpoint(self.key, acc.size, acc.root().hex(), time)
        session.add(AuditCheckpointRow(tree_size=cp.tree_size, root_hash=cp.root_hash,
                                       time=cp.time, key_id=cp.key_id, signature=cp.signature))
        return cp


def _accumulator(head: AuditHead) -> MerkleAccumulator:
    peaks = [bytes.fromhex(p) for p in head.peaks.split(",") if p]
    return MerkleAccumulator(head.seq, peaks)


def iter_entries(session: Session, after: int = 0, limit: int | None = None
                 ) -> Iterator[AuditEntry]:
    """Entries in sequence order, streamed."""
    query = select(AuditEntryRow).where(AuditEntryRow.seq > after).order_by(AuditEntryRow.seq)
    if limit is not None:
        query = query.limit(limit)
    for row in session.execute(query.execution_options(yield_per=2000)).scalars():
        yield row_to_entry(row)


def list_checkpoints(session: Session) -> list[Checkpoint]:
    """Every stored checkpoint, smallest tree first."""
    rows = session.execute(select(AuditCheckpointRow)
                           .order_by(AuditCheckpointRow.tree_size)).scalars()
    return [Checkpoint(r.tree_size, r.root_hash, r.time, r.key_id, r.signature) for r in rows]


def verify_database(db: Database, trusted_keys: Mapping[str, Ed25519PublicKey]) -> VerifyResult:
    """Verify the whole log as stored (reads every entry; O(n) time, O(log n) memory)."""
    with db.session() as session:
        checkpoints = list_checkpoints(session)
        return verify_log(iter_entries(session), checkpoints, trusted_keys)


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Proof that one entry is in the tree a signed checkpoint commits to."""

    entry: AuditEntry
    checkpoint: Checkpoint
    path: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (hashes in hex; `leaf_index` is seq - 1)."""
        return {"entry": self.entry.to_dict(), "leaf_index": self.entry.seq - 1,
                "checkpoint": self.checkpoint.to_dict(), "audit_path": self.path}


def prove_inclusion(session: Session, seq: int) -> InclusionProof | None:
    """The inclusion proof of entry `seq` against the first checkpoint covering it."""
    entry_row = session.get(AuditEntryRow, seq)
    cp_row = session.execute(select(AuditCheckpointRow).where(AuditCheckpointRow.tree_size >= seq)
                             .order_by(AuditCheckpointRow.tree_size).limit(1)).scalar_one_or_none()
    if entry_row is None or cp_row is None:
        return None
    hashes = [bytes.fromhex(h) for h in session.execute(
        select(AuditEntryRow.hash).where(AuditEntryRow.seq <= cp_row.tree_size)
        .order_by(AuditEntryRow.seq)).scalars()]
    cp = Checkpoint(cp_row.tree_size, cp_row.root_hash, cp_row.time, cp_row.key_id,
                    cp_row.signature)
    if len(hashes) != cp.tree_size or root_from_leaf_hashes(hashes).hex() != cp.root_hash:
        raise AuditStoreError(f"the log does not match checkpoint {cp.tree_size}; run "
                              "`stackwarden audit verify`")
    path = [h.hex() for h in inclusion_proof(seq - 1, hashes)]
    return InclusionProof(row_to_entry(entry_row), cp, path)


def export_bundle(db: Database, log: AuditLog, path: Path, *, with_reports: bool = True
                  ) -> dict[str, Any]:
    """Sign a checkpoint over the whole log, then write the evidence bundle to `path`."""
    with db.transaction() as session:
        log.checkpoint(session)
    with db.session() as session:
        checkpoints = list_checkpoints(session)
        reports = _reports(session) if with_reports else iter(())
        return write_bundle(path, iter_entries(session), checkpoints,
                            log.trusted_keys.values(), reports, utc_now_text())


def _reports(session: Session) -> Iterator[BundleReport]:
    rows = session.execute(select(Scan.id, Scan.report).order_by(Scan.id)
                           .execution_options(yield_per=50))
    for scan_id, blob in rows:
        yield BundleReport(scan_id, zlib.decompress(blob))

"""Audit entries and the hash chain: each entry's hash covers its content and the previous hash."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from stackwarden.audit.merkle import leaf_hash

GENESIS = "0" * 64  # the `prev_hash` of entry 1


def canonical_json(value: Any) -> bytes:
    """One byte form for a JSON value: sorted keys, no spaces, UTF-8 (what gets hashed)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recorded action: who did what to which object, and when."""

    seq: int
    time: str  # ISO 8601 UTC, e.g. 2025-01-31T12:00:00.123456Z
    actor: str
    action: str
    object: str  # "scan:12", "finding:9", "user:alice", …
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS
    hash: str = ""

    def content(self) -> dict[str, Any]:
        """Everything the hash covers (all fields but the hash itself)."""
        return {"seq": self.seq, "time": self.time, "actor": self.actor, "action": self.action,
                "object": self.object, "details": self.details, "prev_hash": self.prev_hash}

    def compute_hash(self) -> str:
        """The entry's hash: the RFC 6962 leaf hash of its canonical content, in hex."""
        return leaf_hash(canonical_json(self.content())).hex()

    def to_dict(self) -> dict[str, Any]:
        """JSON form (exported in evidence bundles and by the API)."""
        return {**self.content(), "hash": self.hash}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AuditEntry:
        """Read the JSON form back (KeyError/TypeError on a malformed entry)."""
        return cls(seq=int(raw["seq"]), time=str(raw["time"]), actor=str(raw["actor"]),
                   action=str(raw["action"]), object=str(raw["object"]),
                   details=dict(raw["details"]), prev_hash=str(raw["prev_hash"]),
                   hash=str(raw["hash"]))


def next_entry(prev: AuditEntry | None, *, time: str, actor: str, action: str, object: str,
               details: dict[str, Any] | None = None) -> AuditEntry:
    """The entry that follows `prev` (or the first one), with its hash filled in."""
    draft = AuditEntry(seq=1 if prev is None else prev.seq + 1, time=time, actor=actor,
                       action=action, object=object, details=dict(details or {}),
                       prev_hash=GENESIS if prev is None else prev.hash)
    return AuditEntry(**{**draft.content(), "hash": draft.compute_hash()})

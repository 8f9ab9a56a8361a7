"""The alert a rule raises: which rule, for which group of events, how many, when."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

LEVELS = ("informational", "low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class Alert:
    """One incident: a rule's matches for one group, from `first` to `last`.

    The engine returns an alert when an incident opens (count so far) and again, final, when
    it closes (no match for the rule's window); `alert_id` is the same for both, so a receiver
    updates rather than duplicates.
    """

    rule_id: str
    title: str
    level: str
    kind: str  # "detection", or the correlation type ("event_count", "value_count", …)
    group: tuple[tuple[str, Any], ...]  # the group-by fields and their values
    count: int
    first: float | None
    last: float | None
    origin: str = ""  # where the first matching event was read
    line: int = 0
    sample: str = ""  # the first matching event's text (capped)
    tags: tuple[str, ...] = ()
    rule_path: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    closed: bool = False
    rule_name: str = ""  # the Sigma rule's `name`, when it has one

    @property
    def alert_id(self) -> str:
        """Stable id of the incident: rule, group and the time it started."""
        key = json.dumps([self.rule_id, [list(g) for g in self.group], self.first],
                         default=str, separators=(",", ":"))
        return hashlib.sha256(key.encode()).hexdigest()[:24]

    @property
    def group_text(self) -> str:
        """`src_ip=1.2.3.4 user=root`, or empty."""
        return " ".join(f"{k}={v}" for k, v in self.group)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with stable keys (times as ISO 8601 UTC)."""
        return {
            "id": self.alert_id,
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
            "title": self.title,
            "level": self.level,
            "kind": self.kind,
            "group": {k: v for k, v in self.group},
            "count": self.count,
            "first": iso(self.first),
            "last": iso(self.last),
            "origin": self.origin,
            "line": self.line,
            "sample": self.sample,
            "tags": list(self.tags),
            "rule_path": self.rule_path,
            "detail": self.detail,
        }


def iso(timestamp: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 UTC (`2024-05-01T12:00:00Z`), or None."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def level_rank(level: str) -> int:
    """informational 0 … critical 4 (unknown levels sort first)."""
    return LEVELS.index(level) if level in LEVELS else -1

"""Finding search with keyset pagination, and triage (ignore, accept the risk, reopen)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, or_, select, tuple_
from sqlalchemy.orm import Session

from stackwarden.core.findings import Severity
from stackwarden.server.auth import utcnow
from stackwarden.server.db.models import FindingRow
from stackwarden.server.errors import bad_request, not_found

STATES = ("new", "open", "fixed", "reopened")
TRIAGE = ("none", "ignored", "risk_accepted")


@dataclass
class FindingFilter:
    """Search criteria; every field narrows the result (AND); lists mean any of (OR)."""

    severity: list[str] = field(default_factory=list)
    min_severity: str | None = None
    kind: list[str] = field(default_factory=list)
    state: list[str] = field(default_factory=list)
    triage: str | None = None
    kev: bool | None = None
    fix_available: bool | None = None
    asset_id: int | None = None
    vuln_id: str | None = None
    package: str | None = None
    min_age_days: float | None = None
    max_age_days: float | None = None


def _severities(names: list[str]) -> list[int]:
    ranks = []
    for name in names:
        try:
            ranks.append(Severity(name).rank)
        except ValueError:
            raise bad_request(f"unknown severity {name!r} (one of "
                              f"{', '.join(s.value for s in Severity)})", status=422,
                              code="bad_filter") from None
    return ranks


def apply_filter(query: Select[Any], flt: FindingFilter, now: datetime) -> Select[Any]:
    """Add the WHERE clauses of `flt`."""
    F = FindingRow
    # A filter matching many rows must not steer the planner onto its index: walking the
    # primary key backwards finds a page after a few hundred rows, while reading the whole
    # range of an index and sorting it by id costs the full range (a third of a million rows
    # for "critical or high"). `rank + 0` keeps the condition and hides the index; one value
    # (`severity=critical`) keeps it, since (rank, id) is already in page order.
    if flt.severity:
        ranks = _severities(flt.severity)
        query = query.where(F.severity_rank == ranks[0] if len(ranks) == 1 else
                            (F.severity_rank + 0).in_(ranks))
    if flt.min_severity:
        query = query.where(F.severity_rank + 0 >= _severities([flt.min_severity])[0])
    if flt.kind:
        query = query.where(F.kind == flt.kind[0] if len(flt.kind) == 1 else
                            (F.kind + "").in_(flt.kind))
    if flt.state:
        unknown = set(flt.state) - set(STATES)
        if unknown:
            raise bad_request(f"unknown state {min(unknown)!r} (one of "
                              f"{', '.join(STATES)})", status=422, code="bad_filter")
        query = query.where(F.state == flt.state[0] if len(flt.state) == 1 else
                            (F.state + "").in_(flt.state))
    if flt.triage:
        live = or_(F.triage_expires.is_(None), F.triage_expires > now)
        if flt.triage == "none":
            query = query.where(or_(F.triage == "", F.triage_expires <= now))
        elif flt.triage in TRIAGE:
            query = query.where(and_(F.triage == flt.triage, live))
        else:
            raise bad_request(f"unknown triage {flt.triage!r} (one of {', '.join(TRIAGE)})",
                              status=422, code="bad_filter")
    if flt.kev is not None:
        query = query.where(F.kev.is_(flt.kev))
    if flt.fix_available is not None:
        query = query.where(F.fix_available.is_(flt.fix_available))
    if flt.asset_id is not None:
        query = query.where(F.asset_id == flt.asset_id)
    if flt.vuln_id:
        query = query.where(F.vuln_id == flt.vuln_id)
    if flt.package:
        query = query.where(F.package_name == flt.package)
    if flt.min_age_days is not None:
        query = query.where(F.first_seen <= now - timedelta(days=flt.min_age_days))
    if flt.max_age_days is not None:
        query = query.where(F.first_seen >= now - timedelta(days=flt.max_age_days))
    return query


def _parse_cursor(cursor: str, sort: str) -> tuple[int, ...]:
    parts = cursor.split(".")
    if (sort == "severity" and len(parts) == 2 or sort == "id" and len(parts) == 1) and all(
            p.isdigit() and len(p) < 19 for p in parts):
        return tuple(int(p) for p in parts)
    raise bad_request("invalid cursor (pass back next_cursor unchanged, with the same sort)",
                      status=422, code="bad_cursor")


def list_findings(session: Session, flt: FindingFilter, *, limit: int = 50,
                  cursor: str | None = None, sort: str = "id") -> tuple[list[FindingRow],
                                                                         str | None]:
    """One page, newest first (`id`) or worst first (`severity`), and the next page's cursor.

    Keyset pagination: the cursor is the last row's sort key, so page 10,000 costs what page 1
    costs (an OFFSET would scan every row before it).
    """
    if sort not in ("id", "severity"):
        raise bad_request("sort is `id` or `severity`", status=422, code="bad_sort")
    query = apply_filter(select(FindingRow), flt, utcnow())
    F = FindingRow
    if sort == "severity":
        if cursor:
            rank, last = _parse_cursor(cursor, sort)
            query = query.where(tuple_(F.severity_rank, F.id) < tuple_(rank, last))
        query = query.order_by(F.severity_rank.desc(), F.id.desc())
    else:
        if cursor:
            (last,) = _parse_cursor(cursor, sort)
            query = query.where(F.id < last)
        query = query.order_by(F.id.desc())
    rows = list(session.execute(query.limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        tail = rows[-1]
        next_cursor = f"{tail.severity_rank}.{tail.id}" if sort == "severity" else str(tail.id)
    return rows, next_cursor


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def finding_summary(row: FindingRow, now: datetime | None = None) -> dict[str, Any]:
    """The list form of a finding."""
    now = now or utcnow()
    live = row.triage and (row.triage_expires is None or row.triage_expires > now)
    return {
        "id": row.id, "asset_id": row.asset_id, "fingerprint": row.fingerprint,
        "kind": row.kind, "vuln_id": row.vuln_id, "title": row.title,
        "severity": row.severity,
        "package": {"name": row.package_name, "version": row.package_version,
                    "purl": row.purl} if row.package_name else None,
        "path": row.path, "fix_available": row.fix_available, "kev": row.kev,
        "epss": row.epss, "state": row.state, "first_seen": _iso(row.first_seen),
        "last_seen": _iso(row.last_seen), "fixed_at": _iso(row.fixed_at),
        "first_scan_id": row.first_scan_id, "last_scan_id": row.last_scan_id,
        "triage": {"status": row.triage if live else "none", "reason": row.triage_reason,
                   "by": row.triage_by, "approver": row.triage_approver,
                   "expires_at": _iso(row.triage_expires), "at": _iso(row.triage_at),
                   "expired": bool(row.triage) and not live},
    }


def finding_detail(row: FindingRow) -> dict[str, Any]:
    """The full form: the summary plus the finding as last reported."""
    return {**finding_summary(row), "finding": json.loads(row.data)}


def set_triage(session: Session, finding_id: int, status: str, reason: str,
               expires_at: datetime | None, actor: str, log: Any) -> FindingRow:
    """Ignore, accept the risk of, or clear the triage of a finding (audited)."""
    row = session.get(FindingRow, finding_id, with_for_update=True)
    if row is None:
        raise not_found(f"finding {finding_id}")
    now = utcnow()
    if expires_at is not None and expires_at <= now:
        raise bad_request("expires_at is in the past", status=422, code="bad_expiry")
    before = {"status": row.triage or "none", "reason": row.triage_reason,
              "by": row.triage_by, "expires_at": _iso(row.triage_expires)}
    if status == "none":
        row.triage, row.triage_reason, row.triage_by, row.triage_approver = "", "", "", ""
        row.triage_expires, row.triage_at = None, now
    else:
        row.triage, row.triage_reason, row.triage_by = status, reason, actor
        row.triage_approver = actor if status == "risk_accepted" else ""
        row.triage_expires, row.triage_at = expires_at, now
    log.append(session, actor, f"finding.{'triage_clear' if status == 'none' else status}",
               f"finding:{row.id}", {"fingerprint": row.fingerprint, "asset_id": row.asset_id,
                                     "vuln_id": row.vuln_id, "reason": reason,
                                     "expires_at": _iso(expires_at), "before": before})
    session.flush()
    return row

"""Risk triage: a priority for every finding, with its reasons, and SLA due dates per severity.

The formula (docs/dashboard.md, "Risk triage"), 0 to 100:

    4 x CVSS base score (or the severity's nominal score when there is no CVSS)   0-40
  + 25 when the vulnerability is in CISA KEV (known exploited)                     0/25
  + 20 x EPSS probability (chance of exploitation in the next 30 days)            0-20
  + 5 when a fixed version exists (cheap to fix: do it now)                        0/5
  + 10 when the asset is labelled internet-facing                                  0/10
  + 5 when the asset is labelled monitored-host (an agent saw it running)          0/5

capped at 100. Bands: P1 >= 70, P2 >= 50, P3 >= 30, else P4. The same formula exists twice,
in Python (with reasons, for display) and as a SQL expression (to sort and rank in the
database); a test holds them equal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, select
from sqlalchemy.orm import Session

from stackwarden.report.text import SEVERITY_SCORE
from stackwarden.server.auth import utcnow
from stackwarden.server.db.models import FindingRow
from stackwarden.server.db.models_dashboard import AssetLabel, FindingScore, ServerPolicy

INTERNET_FACING = "internet-facing"
MONITORED_HOST = "monitored-host"
GOLDEN = "golden"
LABELS = (INTERNET_FACING, MONITORED_HOST, GOLDEN)
# The severity's nominal 0-10 score when a finding carries no CVSS (unknown: middle of scale).
NOMINAL = {**{str(k): v for k, v in SEVERITY_SCORE.items()}, "unknown": 5.0}
WEIGHTS = {"cvss": 4.0, "kev": 25.0, "epss": 20.0, "fix": 5.0, INTERNET_FACING: 10.0,
           MONITORED_HOST: 5.0}
BANDS = ((70.0, "P1"), (50.0, "P2"), (30.0, "P3"), (0.0, "P4"))
# Days to fix, per severity, from first seen (PCI DSS 6.3.3 asks critical within a month).
DEFAULT_SLA_DAYS = {"critical": 15, "high": 30, "medium": 90, "low": 180}
SLA_POLICY_KEY = "sla_days"


@dataclass(frozen=True, slots=True)
class Priority:
    """A finding's priority score, its band and why."""

    score: float
    band: str
    reasons: tuple[tuple[float, str], ...]  # (points, why)


def band_of(score: float) -> str:
    """P1 (fix now) to P4."""
    return next(name for floor, name in BANDS if score >= floor)


def max_cvss_of(raw: dict[str, Any]) -> float | None:
    """The highest CVSS v3/v4 base score in a finding's JSON (v2 only if nothing newer)."""
    scores = [(str(c.get("version", "")), c.get("score")) for c in raw.get("cvss") or ()
              if isinstance(c, dict) and isinstance(c.get("score"), int | float)]
    modern = [float(s) for v, s in scores if not v.startswith("2")]
    every = modern or [float(s) for _, s in scores]
    return max(every) if every else None


def priority(severity: str, *, cvss: float | None, kev: bool, epss: float | None,
             fix_available: bool, labels: frozenset[str] | set[str] = frozenset()) -> Priority:
    """The priority of one finding, with a reason for every term that counted."""
    reasons: list[tuple[float, str]] = []
    if cvss is not None:
        reasons.append((WEIGHTS["cvss"] * cvss, f"CVSS {cvss:.1f}"))
    else:
        reasons.append((WEIGHTS["cvss"] * NOMINAL.get(severity, 5.0),
                        f"severity {severity} (no CVSS score)"))
    if kev:
        reasons.append((WEIGHTS["kev"], "known exploited (CISA KEV)"))
    if epss:
        reasons.append((WEIGHTS["epss"] * epss,
                        f"EPSS {epss:.2f}: {epss:.0%} chance of exploitation in 30 days"))
    if fix_available:
        reasons.append((WEIGHTS["fix"], "a fixed version exists"))
    if INTERNET_FACING in labels:
        reasons.append((WEIGHTS[INTERNET_FACING], "asset is internet-facing"))
    if MONITORED_HOST in labels:
        reasons.append((WEIGHTS[MONITORED_HOST], "runs on a monitored host"))
    score = round(min(100.0, sum(p for p, _ in reasons)), 1)
    return Priority(score, band_of(score), tuple((round(p, 1), why) for p, why in reasons))


def row_priority(row: FindingRow, cvss: float | None, labels: frozenset[str]) -> Priority:
    """The priority of a stored finding."""
    return priority(row.severity, cvss=cvss, kev=row.kev, epss=row.epss,
                    fix_available=row.fix_available, labels=labels)


def _label(label: str) -> ColumnElement[Any]:
    return exists(select(AssetLabel.asset_id).where(AssetLabel.asset_id == FindingRow.asset_id,
                                                    AssetLabel.label == label))


def priority_sql(*, exposure: bool = True) -> ColumnElement[Any]:
    """The same formula as `priority`, as a SQL expression over findings (outer-joined to
    finding_scores). `exposure=False` leaves out the asset's labels and the cap (for sums
    per asset, where the labels add the same points to every finding: `label_points`)."""
    nominal = case(*((FindingRow.severity == name, literal(value))
                     for name, value in NOMINAL.items()), else_=literal(5.0))
    total = (WEIGHTS["cvss"] * func.coalesce(FindingScore.cvss, nominal)
             + case((FindingRow.kev.is_(True), WEIGHTS["kev"]), else_=0.0)
             + WEIGHTS["epss"] * func.coalesce(FindingRow.epss, 0.0)
             + case((FindingRow.fix_available.is_(True), WEIGHTS["fix"]), else_=0.0))
    if not exposure:
        return total
    total = (total + case((_label(INTERNET_FACING), WEIGHTS[INTERNET_FACING]), else_=0.0)
             + case((_label(MONITORED_HOST), WEIGHTS[MONITORED_HOST]), else_=0.0))
    return case((total > 100.0, 100.0), else_=total)


def label_points(labels: frozenset[str] | set[str]) -> float:
    """What an asset's labels add to each of its findings' priority."""
    return sum(WEIGHTS[label] for label in (INTERNET_FACING, MONITORED_HOST) if label in labels)


# --- SLA ---------------------------------------------------------------------------------

def sla_days(session: Session) -> dict[str, int]:
    """Days to fix per severity: the dashboard's policy, else the defaults."""
    row = session.get(ServerPolicy, SLA_POLICY_KEY)
    if row is None:
        return dict(DEFAULT_SLA_DAYS)
    stored = json.loads(row.value)
    return {k: int(stored[k]) for k in DEFAULT_SLA_DAYS if isinstance(stored.get(k), int)}


def due_date(first_seen: datetime, severity: str, days: dict[str, int]) -> datetime | None:
    """When a finding must be fixed by (None: no SLA for this severity)."""
    limit = days.get(severity)
    return None if limit is None else first_seen + timedelta(days=limit)


def is_breached(row: FindingRow, days: dict[str, int], now: datetime | None = None) -> bool:
    """An active, untriaged finding past its due date."""
    now = now or utcnow()
    due = due_date(row.first_seen, row.severity, days)
    live_triage = row.triage and (row.triage_expires is None or row.triage_expires > now)
    return (due is not None and due < now and row.state != "fixed" and not live_triage)


def breach_condition(days: dict[str, int], now: datetime) -> ColumnElement[Any]:
    """SQL: active, untriaged findings past their due date."""
    from sqlalchemy import or_

    per_severity = [and_(FindingRow.severity == sev, FindingRow.first_seen
                         < now - timedelta(days=limit)) for sev, limit in days.items()]
    return and_(FindingRow.state != "fixed", or_(*per_severity) if per_severity else False,
                or_(FindingRow.triage == "", FindingRow.triage_expires <= now))


def parse_sla_form(values: dict[str, str]) -> tuple[dict[str, int], dict[str, str]]:
    """SLA days from a form: (days, errors by field)."""
    days: dict[str, int] = {}
    errors: dict[str, str] = {}
    for severity in DEFAULT_SLA_DAYS:
        text = values.get(severity, "").strip()
        if not text:
            continue  # no SLA for this severity
        if not text.isdigit() or not 1 <= int(text) <= 3650:
            errors[severity] = "a whole number of days from 1 to 3650, or empty for no SLA"
        else:
            days[severity] = int(text)
    return days, errors

